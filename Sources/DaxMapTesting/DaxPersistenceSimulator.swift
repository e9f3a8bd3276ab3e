internal import CDaxMap
import DaxMap
import Glibc
import Synchronization
import SystemPackage
internal import DaxMapSync

/// The simulated persistence domain of one opened emulated device (see
/// ``DaxPersistenceSimulation``): counts the points, evicts, and fails the power.
///
/// The device's mappings map a memory file of this process (the "CPU cache");
/// the device's file is the media, written one unit at a time by flush points
/// and evictions. After a power failure nothing more reaches the media: the
/// point that failed and every later guarded access throw `.deviceRemoved`,
/// every mapping of the device is revoked at once, its holders are told
/// `DaxFailure/Kind/removed` (source `RemovalSource/powerFailure`), and the
/// device is gone until reopened, as after a removal. Thread-safe; replayable
/// from `seed` when one thread drives the device.
public final class DaxPersistenceSimulator: Sendable, CustomStringConvertible, SimulatedPersistenceDomain {
    /// What was asked for.
    public let configuration: DaxPersistenceSimulation
    /// The seed of every random choice (the configuration's, or one picked at open).
    public let seed: UInt64
    /// Bytes of one unit: 64 (cache line) or the page size.
    public let unitSize: Int
    /// The device's path.
    public let path: String
    /// The cache's descriptor: what the device's mappings map.
    package let cacheDescriptor: CInt

    private let size: Int
    /// The simulator's own view of the whole cache, to write units to the media from.
    private let cache: UnsafeAddress
    /// Its own descriptor of the file: persists after the device is closed still reach it.
    private let media: CInt
    /// Read without the lock by every guarded access: is the power on?
    private let powered = Atomic<Bool>(true)

    private struct State {
        var points = 0
        var target: Int?
        var random: SeededRandom
        var dirty = DirtyUnits()
        var persistCalls = 0
        var persisted = 0
        var evicted = 0
        var skipped = 0
        var failure: DaxPowerFailure?
        weak var device: DaxDevice?
    }

    private let state: Locked<State>

    private init(configuration: DaxPersistenceSimulation, seed: UInt64, path: String, size: Int,
                 cacheDescriptor: CInt, cache: UnsafeMutableRawPointer, media: CInt) {
        self.configuration = configuration
        self.seed = seed
        self.unitSize = configuration.unitSize
        self.path = path
        self.size = size
        self.cacheDescriptor = cacheDescriptor
        self.cache = UnsafeAddress(cache)
        self.media = media
        state = Locked(State(target: configuration.powerFailureAtPoint, random: SeededRandom(seed: seed)))
    }

    deinit {
        Syscalls.munmap(cache.pointer, size)
        Syscalls.close(cacheDescriptor)
        Syscalls.close(media)
    }

    /// Makes the cache of the file open as `fd`: a memory file of its size
    /// holding what the file holds now.
    static func make(_ configuration: DaxPersistenceSimulation, path: String, file fd: CInt,
                     size: UInt64) throws(DaxError) -> DaxPersistenceSimulator {
        try configuration.validate(path: path)
        guard size > 0, size <= UInt64(Int.max) else {
            throw DaxError(.invalidArgument, operation: "open", path: path, length: size,
                           message: "an empty file cannot hold a simulated persistence domain; give it a size first")
        }
        let count = Int(size)
        // The cache is memory: refuse what cannot fit rather than be killed filling it.
        if case .success(let st) = Syscalls.status(of: fd) {
            let data = UInt64(max(st.st_blocks, 0)) * 512
            let memory = Syscalls.physicalMemory
            if memory > 0, data > memory / 2 {
                throw DaxError(.invalidArgument, operation: "open", path: path, length: size,
                               message: "the simulation keeps a copy of the device in memory: its \(data) bytes of data do not fit in half of this machine's \(memory) bytes of RAM; simulate a smaller device")
            }
        }
        let media: CInt
        switch Syscalls.duplicate(fd) {
        case .success(let m): media = m
        case .failure(let e):
            throw DaxError(.system, operation: "dup", path: path, errno: e, message: "cannot keep a descriptor of the media")
        }
        let memfd = cdaxmap_memfd("daxmap-simulated-cache")
        guard memfd >= 0 else {
            Syscalls.close(media)
            throw DaxError(.system, operation: "memfd_create", path: path, errno: Errno(rawValue: -memfd),
                           message: "cannot make the simulated cache")
        }
        func fail(_ operation: String, _ errno: Errno, _ message: String, unmap: UnsafeMutableRawPointer? = nil) -> DaxError {
            if let unmap { Syscalls.munmap(unmap, count) }
            Syscalls.close(memfd)
            Syscalls.close(media)
            return DaxError(.system, operation: operation, path: path, length: size, errno: errno, message: message)
        }
        if case .failure(let e) = Syscalls.ftruncate(memfd, count) {
            throw fail("ftruncate", e, "cannot size the simulated cache to \(size) bytes")
        }
        let view: UnsafeMutableRawPointer
        switch Syscalls.mmap(nil, count, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0) {
        case .success(let p): view = p
        case .failure(let e): throw fail("mmap", e, "cannot map the simulated cache")
        }
        // The cache starts as the media is: what was persisted before. Only the
        // file's data is read (holes stay untouched zero pages of the cache).
        let seekData: CInt = 3, seekHole: CInt = 4 // SEEK_DATA, SEEK_HOLE (Linux), which Glibc does not export
        var done = 0
        while done < count {
            let data = Syscalls.seek(media, to: done, seekData)
            if case .failure(.noSuchAddressOrDevice) = data { break } // ENXIO: only a hole is left
            if case .success(let d) = data, d > 0 { done = min(d, count) }
            // No SEEK_DATA/SEEK_HOLE (an error other than ENXIO): read it all.
            let found = data.flatMap { _ in Syscalls.seek(media, to: done, seekHole) }
            var hole = (try? found.get()).map { min($0, count) } ?? count
            if hole <= done { hole = count }
            while done < hole {
                let chunk = UnsafeMutableRawBufferPointer(start: view + done, count: min(hole - done, 1 << 20))
                switch Syscalls.read(media, into: chunk, at: done) {
                case .failure(let e): throw fail("pread", e, "cannot read the device file into the simulated cache", unmap: view)
                case .success(0): done = count // shorter than its size a moment ago: the rest reads as zeros
                case .success(let n): done += n
                }
            }
        }
        var seed = configuration.seed ?? 0
        if configuration.seed == nil {
            var system = SystemRandomNumberGenerator()
            seed = system.next()
        }
        return DaxPersistenceSimulator(configuration: configuration, seed: seed, path: path, size: count,
                                       cacheDescriptor: memfd, cache: view, media: media)
    }

    package func attach(to device: DaxDevice) { state.withLock { $0.device = device } }

    /// Every mapping of the device stores and persists through the simulation.
    package func strategy(granularity: StoreGranularity, nonTemporalThreshold: Int) -> any PersistenceStrategy {
        SimulatedPersistence(simulator: self,
                             streamingThreshold: DaxMapInternals.streamingThreshold(granularity, asked: nonTemporalThreshold))
    }

    public var description: String {
        let (points, dirty) = state.withLock { ($0.points, $0.dirty.count) }
        return "simulated persistence of \(path): \(configuration.granularity), seed \(seed), \(points) points, \(dirty) dirty units"
            + (isPowered ? "" : ", power failed")
    }

    // MARK: - Public state and control

    /// Whether the power is still on.
    public var isPowered: Bool { powered.load(ordering: .acquiring) }
    /// The power failed: new mappings of the device start cut off.
    package var isCutOff: Bool { !isPowered }
    /// Points passed so far (stores, flushes, fences).
    public var points: Int { state.withLock { $0.points } }
    /// Units dirtied by guarded stores that have not reached the media.
    public var dirtyUnits: Int { state.withLock { $0.dirty.count } }
    /// Units written to the media by persists so far.
    public var unitsPersisted: Int { state.withLock { $0.persisted } }
    /// Units written to the media by eviction so far.
    public var unitsEvicted: Int { state.withLock { $0.evicted } }
    /// The power failure, once it happened.
    public var powerFailure: DaxPowerFailure? { state.withLock { $0.failure } }

    /// Fails the power at point `point` (counted from opening; see `points`):
    /// that point does not happen. Replaces an earlier schedule.
    /// - Throws: `.invalidArgument` when `point` has been passed already, `.deviceRemoved` when the power has failed.
    public func schedulePowerFailure(atPoint point: Int) throws(DaxError) {
        try state.withLock { (s: inout State) throws(DaxError) in
            if let failure = s.failure { throw offError("schedulePowerFailure", nil, failure) }
            guard point > s.points else {
                throw DaxError(.invalidArgument, operation: "schedulePowerFailure", path: path,
                               message: "point \(point) has been passed already (\(s.points) points so far)")
            }
            s.target = point
        }
    }

    /// Fails the power now, between points, and returns once the device's
    /// mappings are revoked and its holders have been told (or the device's
    /// removal deadline passed). After a power failure it returns that one.
    @discardableResult
    public func failPower() async -> DaxPowerFailure {
        let (failure, device) = state.withLock { s -> (DaxPowerFailure, DaxDevice?) in
            (s.failure ?? cut(&s, at: .request), s.device)
        }
        // Starts the removal, or joins the one a scheduled failure started.
        if let device { _ = await powerFailedReport(device) }
        return failure
    }

    // MARK: - Points (the device's mappings call these)

    /// A store point for one unit: `body` stores into the cache (a guarded
    /// copy into the mapping) and says whether it did; the unit is then dirty.
    func store(at offset: UInt64, operation: String, _ body: () -> Bool) throws(DaxError) {
        try pass(.store, operation: operation, offset: offset) { s in
            if body() { s.dirty.insert(Int(offset) / unitSize) }
        }
    }

    /// Persists the units of a device range: a flush point for each (the unit
    /// reaches the media), then a fence point.
    func persist(_ range: Range<UInt64>, operation: String) throws(DaxError) {
        guard !range.isEmpty else { return }
        let skip = try state.withLock { (s: inout State) throws(DaxError) -> Bool in
            if let failure = s.failure { throw offError(operation, range.lowerBound, failure) }
            s.persistCalls += 1
            guard let every = configuration.skipPersistEvery, s.persistCalls % every == 0 else { return false }
            s.skipped += 1
            return true
        }
        if skip { return } // on purpose: as a writer that forgot its flush
        let first = Int(range.lowerBound) / unitSize, last = Int(range.upperBound - 1) / unitSize
        for unit in first...last {
            var written: Errno?
            try pass(.flush, operation: operation, offset: UInt64(unit * unitSize)) { s in
                written = writeUnit(unit)
                if written == nil {
                    s.dirty.remove(unit)
                    s.persisted += 1
                }
            }
            if let written {
                throw DaxError(.system, operation: operation, path: path, offset: UInt64(unit * unitSize),
                               length: UInt64(unitSize), errno: written, message: "the simulated media (the device's file) refused the write")
            }
        }
        try pass(.fence, operation: operation, offset: range.lowerBound) { _ in }
    }

    /// What a guarded access to a mapping cut off by the power failure throws.
    func poweredOffError(_ operation: String, offset: UInt64) -> DaxError {
        offError(operation, offset, powerFailure)
    }

    // MARK: - Inside

    /// Passes one point: the power fails here if scheduled so (then `body`
    /// does not run); else `body`, then perhaps an eviction.
    private func pass(_ kind: DaxPowerFailure.Point, operation: String, offset: UInt64,
                      _ body: (inout State) -> Void) throws(DaxError) {
        enum Outcome { case passed, off(DaxPowerFailure), cut(DaxPowerFailure, DaxDevice?) }
        let outcome = state.withLock { s -> Outcome in
            if let failure = s.failure { return .off(failure) }
            s.points += 1
            if s.points == s.target { return .cut(cut(&s, at: kind), s.device) }
            body(&s)
            if s.random.chance(configuration.evictionProbability), let unit = s.dirty.pick(&s.random),
               writeUnit(unit) == nil {
                s.dirty.remove(unit)
                s.evicted += 1
            }
            return .passed
        }
        switch outcome {
        case .passed:
            return
        case .off(let failure):
            throw offError(operation, offset, failure)
        case .cut(let failure, let device):
            if let device { powerFailed(device) }
            throw offError(operation, offset, failure)
        }
    }

    /// The power fails: nothing more reaches the media.
    private func cut(_ s: inout State, at kind: DaxPowerFailure.Point) -> DaxPowerFailure {
        powered.store(false, ordering: .releasing)
        let failure = DaxPowerFailure(device: path, seed: seed, point: s.points, kind: kind, unitsLost: s.dirty.count,
                                      unitsPersisted: s.persisted, unitsEvicted: s.evicted, persistsSkipped: s.skipped)
        s.failure = failure
        s.dirty.removeAll()
        return failure
    }

    /// Guarded accesses to the device's mappings refused from now on, every
    /// mapping revoked, holders told: the device is gone.
    private func powerFailed(_ device: DaxDevice) {
        for mapping in device.openMappings { mapping.cutOff() }
        device.startRemoval(source: .powerFailure)
    }

    /// As `powerFailed(_:)`, waiting for the removal's report.
    private func powerFailedReport(_ device: DaxDevice) async -> DaxRemovalReport {
        powerFailed(device)
        return await device.removal(source: .powerFailure)
    }

    /// Writes one unit of the cache to the media (the last may be short).
    private func writeUnit(_ unit: Int) -> Errno? {
        let start = unit * unitSize
        guard start < size else { return nil }
        let count = min(unitSize, size - start)
        let unit = UnsafeRawBufferPointer(start: cache.pointer + start, count: count)
        if case .failure(let e) = Syscalls.writeAll(media, unit, at: start) { return e }
        return nil
    }

    private func offError(_ operation: String, _ offset: UInt64?, _ failure: DaxPowerFailure?) -> DaxError {
        let at = failure.map { " at point \($0.point) (\($0.kind)), seed \($0.seed)" } ?? ""
        return DaxError(.deviceRemoved, operation: operation, path: path, offset: offset,
                        message: "the power failed (simulated)\(at): nothing more reaches the media; reopen the device")
    }
}
