internal import CDaxMap
internal import DaxMapSync

/// The failures injected into emulated devices (DaxMapTesting's
/// `DaxFaultInjector` and `daxmap inject` record them beside the device): how
/// the library honours them at open, map, ``DaxDevice/badblocks`` and
/// ``DaxDevice/clearErrors(in:)``.
package protocol EmulatedFailureHook: Sendable {
    /// Refuses a malformed record of injected failures beside the device at `path`.
    func validate(devicePath path: String) throws(DaxError)
    /// Arms a new mapping of an emulated device with what was injected there.
    func arm(_ mapping: DaxMapping) throws(DaxError)
    /// The device ranges injected into the device at `path` now.
    func injected(devicePath path: String) -> [Range<UInt64>]
    /// Clears what was injected into `range` of `device`; returns the ranges cleared.
    func clear(_ device: DaxDevice, _ range: Range<UInt64>) throws(DaxError) -> [Range<UInt64>]
}

/// Where the hook lives. DaxMapTesting installs it: its loader registers an
/// installer before main (linking the product is enough), which runs once,
/// here, the first time an emulated device asks. A process without the
/// product has no hook, and an emulated device then has no injected failures.
/// Only emulated devices ask, at open and map, never on an access.
package enum EmulatedFailures {
    private static let hook = Locked<(any EmulatedFailureHook)?>(nil)
    private static let installed: Bool = {
        cdaxmap_testing_install()
        return true
    }()

    /// The installed hook, after running the testing product's installer once.
    static var current: (any EmulatedFailureHook)? {
        _ = installed
        return hook.withLock { $0 }
    }

    /// Installs `newHook` unless one is installed (DaxMapTesting's installer,
    /// which the first ``current`` runs: it must not ask for ``current`` itself).
    package static func install(_ newHook: any EmulatedFailureHook) {
        hook.withLock { if $0 == nil { $0 = newHook } }
    }

    /// The installed hook, installing `make()` when there is none (a testing
    /// product whose loader did not run still gets the one hook of the process).
    package static func current(installingIfNone make: () -> any EmulatedFailureHook) -> any EmulatedFailureHook {
        _ = installed
        return hook.withLock { h in
            if let h { return h }
            let made = make()
            h = made
            return made
        }
    }
}
