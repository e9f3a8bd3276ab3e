import CDaxMap
import CDaxMapTesting
@testable import DaxMap

extension DaxMapping {
    /// Test support: raises a real SIGBUS with `code` at mapping offset `offset`
    /// on this thread (rt_tgsigqueueinfo), inside a guard when `guarded`.
    /// Returns the error a guarded access would throw, if the guard caught it.
    func raiseForTesting(code: CInt, at offset: Int, addressLSB: CInt, guarded: Bool) -> DaxError? {
        Persistence.prepareThread()
        var fault = cdaxmap_fault()
        if guarded {
            if cdaxmap_test_raise_sigbus_guarded(code, base.pointer + offset, addressLSB, &fault) != 0 {
                return faultError("read", fault)
            }
        } else {
            _ = cdaxmap_test_raise_sigbus(code, base.pointer + offset, addressLSB)
        }
        return nil
    }
}
