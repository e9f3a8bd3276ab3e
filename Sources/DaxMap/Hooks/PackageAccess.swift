package import CDaxMap
import Glibc
import SystemPackage

// What the testing products use of the library's insides that is not
// package-level already (Syscalls, DaxRuntime's registry), in one place:
// forwarders at `package` level, so the internals they reach stay internal
// (and whoever changes one sees here what a testing product needs of it).

/// Process-wide facts and small helpers of the library, for DaxMapTesting
/// (its system calls go through the package-level ``Syscalls``).
package enum DaxMapInternals {
    /// Gives the calling thread an alternate signal stack before it touches a mapping.
    package static func prepareThread() { Persistence.prepareThread() }
    /// Distinct extents of `BUS_MCEERR_AO` within the storm window that make a pre-remove storm.
    package static var stormThreshold: Int { FailureDispatcher.stormThreshold }
    /// The parts of `range` that none of `covered` covers.
    package static func uncovered(_ range: Range<UInt64>, by covered: [Range<UInt64>]) -> [Range<UInt64>] {
        var ledger = RangeLedger()
        for r in covered { ledger.add(r) }
        return ledger.missing(from: range)
    }
    /// The non-temporal threshold a mapping of `granularity` has when `asked` for one (a simulation keeps it).
    package static func streamingThreshold(_ granularity: StoreGranularity, asked: Int) -> Int {
        StreamingThreshold.of(granularity, asked: asked)
    }
}

extension DaxDevice {
    /// Opened read-only (its mappings are `PROT_READ`).
    package var openedReadOnly: Bool { options.readOnly }
    /// Whether `other` has the device's file open (the same device and inode).
    package func hasSameFile(as other: DaxDevice) -> Bool { identity == other.identity }
    /// Whether `st` describes the device's file.
    package func isFile(_ st: Glibc.stat) -> Bool {
        UInt64(st.st_dev) == identity.device && UInt64(st.st_ino) == identity.inode
    }
    /// Starts the device's removal from `source` (or joins the one under way) without waiting.
    package func startRemoval(source: RemovalSource, deadline: Duration? = nil) {
        dispatcher.startRemoval(source: source, deadline: deadline)
    }
    /// Starts the device's removal from `source` (or joins the one under way) and waits for its report.
    package func removal(source: RemovalSource, deadline: Duration? = nil) async -> DaxRemovalReport {
        await dispatcher.startRemoval(source: source, deadline: deadline).report()
    }
    /// The error opening `path` met, in the library's words.
    package static func openFailure(_ path: String, _ errno: Errno, operation: String) -> DaxError {
        openError(path, errno, operation: operation)
    }
}

extension DaxMapping {
    /// The error a guarded access throws for the fault its guard caught (``faultError(_:_:)``).
    package func guardedFaultError(_ operation: String, _ fault: cdaxmap_fault) -> DaxError { faultError(operation, fault) }
    /// Device offsets of `count` bytes at mapping offset `offset`.
    package func deviceRange(_ offset: Int, _ count: Int) -> Range<UInt64> {
        (self.offset + UInt64(offset))..<(self.offset + UInt64(offset + count))
    }
}
