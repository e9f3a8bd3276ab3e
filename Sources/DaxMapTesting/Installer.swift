internal import CDaxMapTestingHooks
import DaxMap

/// Installs the testing product's hooks into DaxMap: what DaxMapTesting's
/// loader (CDaxMapTestingHooks, a constructor) registers before main and DaxMap
/// runs once, the first time an emulated device asks. It must not ask DaxMap
/// for the hook itself (it runs inside that question).
@_cdecl("daxmaptesting_install")
package func daxmapTestingInstall() {
    EmulatedFailures.install(InjectionTraps())
}
