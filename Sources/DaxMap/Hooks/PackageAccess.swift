package import CDaxMap
import Glibc
import SystemPackage

// What the testing products use of the library's insides, in one place:
// forwarders at `package` level, so the internals they reach stay internal
// (and whoever changes one sees here what a testing product needs of it).

/// The library's system calls and process-wide facts, for DaxMapTesting.
package enum DaxMapSystem {
    package static var pageSize: Int { Syscalls.pageSize }
    package static func open(_ path: String, _ flags: CInt, _ mode: mode_t = 0) -> Result<CInt, Errno> {
        Syscalls.open(path, flags, mode)
    }
    package static func close(_ fd: CInt) { Syscalls.close(fd) }
    package static func status(of fd: CInt) -> Result<Glibc.stat, Errno> { Syscalls.status(of: fd) }
    package static func ftruncate(_ fd: CInt, _ size: Int) -> Result<Void, Errno> { Syscalls.ftruncate(fd, size) }
    package static func mmap(_ addr: UnsafeMutableRawPointer?, _ length: Int, _ prot: CInt, _ flags: CInt, _ fd: CInt,
                             _ offset: Int) -> Result<UnsafeMutableRawPointer, Errno> {
        Syscalls.mmap(addr, length, prot, flags, fd, offset)
    }
    package static func munmap(_ addr: UnsafeMutableRawPointer, _ length: Int) { Syscalls.munmap(addr, length) }
    package static func readText(_ path: String, limit: Int) -> String? { Syscalls.readText(path, limit: limit) }
    package static func realpath(_ path: String) -> String? { Syscalls.realpath(path) }
    package static func retrying<T: BinaryInteger>(_ body: () -> T) -> Result<T, Errno> { retryingOnInterrupt(body) }
    /// Gives the calling thread an alternate signal stack before it touches a mapping.
    package static func prepareThread() { Persistence.prepareThread() }
    /// Distinct extents of `BUS_MCEERR_AO` within the storm window that make a pre-remove storm.
    package static var stormThreshold: Int { FailureDispatcher.stormThreshold }
    /// Every registered mapping of every device in this process.
    package static func allMappings() -> [DaxMapping] { MappingRegistry.shared.allMappings() }
    /// The live mapping with `id`, if any.
    package static func mapping(_ id: UInt64) -> DaxMapping? { MappingRegistry.shared.mapping(id) }
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
