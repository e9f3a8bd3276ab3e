internal import CDaxMap
import Glibc
internal import DaxMapSync
import Synchronization

/// One per device: every failure of the device reaches its holders through
/// here, and every decision about it is made here once — whether a fault is a
/// removal, a storm or a range failure, which holders it concerns, what they
/// were already told (coalescing), and the removal's deadline.
///
/// Fed by the monitor thread with faults and their ``FailureCause`` (what
/// failed is decided there, never here: this decides policy on it); never
/// blocks on a holder (calls go through ``HolderCalls`` on holder threads).
final class FailureDispatcher: Sendable {
    /// A fault of one of the device's mappings, with its cause.
    typealias Fault = (mapping: DaxMapping, fault: DaxFault, cause: FailureCause)

    /// Notices about this many distinct extents within ``noticeWindow`` are a
    /// pre-remove storm, not poison: XFS answers `MF_MEM_PRE_REMOVE` by sending
    /// `BUS_MCEERR_AO` for every page of every mapped file.
    static let stormThreshold = 32
    /// Notices are decided this long after the last one (a storm arrives as a
    /// burst; on a busy host its signals trickle in with gaps a fixed window
    /// from the first would split), but never later than ``noticeWindowLimit``
    /// after the first: poison is told within that.
    static let noticeWindow: Duration = .milliseconds(20)
    static let noticeWindowLimit: Duration = .milliseconds(250)

    struct State {
        /// Action-optional notices waiting for the storm decision (with the
        /// epoch each was raised in), and when the decision is due.
        var notices: [(range: Range<UInt64>, epoch: UInt64)] = []
        var noticesStarted: ContinuousClock.Instant?
        var noticesDue: ContinuousClock.Instant?
        /// What each mapping's holder has been told, by kind.
        var told: [UInt64: [FailureCause.Kind: RangeLedger]] = [:]
        var removal: RemovalRun?
    }

    /// The device's handle: its facts, descriptor and lifecycle. Not the
    /// ``DaxDevice``, which owns this dispatcher: ownership runs one way.
    let device: DeviceHandle
    let state = Locked(State())
    /// Kernel uevents seen that remove this device (``DaxDevice/removalUEventsSeen``).
    let removalUEvents = Atomic<Int>(0)
    /// Fault records of this device's mappings handed here (a retire's answer counts its own device's).
    let faultsSeen = Atomic<UInt64>(0)
    private var registry: MappingRegistry { DaxRuntime.process.registry }

    init(device: DeviceHandle) { self.device = device }

    // MARK: - Faults (monitor thread)

    /// Acts on faults drained from the ring for this device's mappings. What
    /// the device's state says (vanished? a shorter file?) is looked at once
    /// per batch, not once per fault: a storm brings thousands.
    func handle(_ faults: [Fault]) {
        faultsSeen.add(UInt64(faults.count), ordering: .relaxed)
        var vanishedNow: Bool?
        func vanished() -> Bool {
            if let v = vanishedNow { return v }
            let v = device.hasVanished()
            vanishedNow = v
            return v
        }
        var tailTold: Bool?
        for (mapping, fault, cause) in faults {
            guard device.lifecycle == .alive else { return } // going or gone: faults are only reported
            switch cause.kind {
            case .memoryFailureActionOptional:
                if fault.range.lowerBound == 0 && fault.range.upperBound >= device.size || vanished() {
                    startRemoval(source: .memoryFailure)
                    return
                }
                state.withLock { s in
                    s.notices.append((fault.range, cause.epoch))
                    let now = ContinuousClock.now, started = s.noticesStarted ?? now
                    s.noticesStarted = started
                    s.noticesDue = min(now + Self.noticeWindow, started + Self.noticeWindowLimit)
                }
            case .memoryFailureActionRequired:
                tell(cause, fault.range)
            case .removed:
                if device.kind == .deviceDax || vanished() {
                    // Device-dax raises BUS_ADRERR only once the device is dead.
                    startRemoval(source: .accessError)
                    return
                }
                if tailTold == nil { tailTold = tellRemovedTail() }
                if tailTold == false {
                    // Not a shorter file: tell what the handler marked, at least the faulting page.
                    let removed = DaxFailedRange.Kind(cause.kind)
                    let marked = mapping.markedFailures().filter { $0.kind == removed && $0.range.overlaps(fault.range) }
                    for failed in marked.isEmpty ? [DaxFailedRange(range: fault.range, kind: removed)] : marked {
                        tell(cause, failed.range)
                    }
                }
                if cause.replaced { tell(.pagesLost, fault.range, epoch: cause.epoch) }
            case .revoked, .unexplained:
                break // an access after revoke, or a fault nothing is known to have failed in: reported only
            case .pagesLost, .preRemove:
                break // never a record's cause: a record says `replaced`; a removal run decides pre-remove
            }
        }
    }

    /// When the pending notices are due for their storm decision, if any are pending.
    var noticesDue: ContinuousClock.Instant? { state.withLock { $0.noticesDue } }

    /// Decides pending notices whose window has closed: a storm is a removal,
    /// fewer are poison for the holders of each range.
    func decideNotices(now: ContinuousClock.Instant) {
        let notices = state.withLock { s -> [(range: Range<UInt64>, epoch: UInt64)]? in
            guard let due = s.noticesDue, due <= now else { return nil }
            s.noticesDue = nil
            s.noticesStarted = nil
            defer { s.notices.removeAll() }
            return s.notices
        }
        guard let notices, device.lifecycle == .alive else { return }
        if Set(notices.map(\.range.lowerBound)).count >= Self.stormThreshold || device.hasVanished() {
            startRemoval(source: .memoryFailure)
            return
        }
        // Coalesced notices take the newest epoch among them: poison stays, so
        // telling a mapping made within the window too loses nothing.
        let epoch = notices.map(\.epoch).max() ?? 0
        for range in RangeLedger.coalesced(notices.map(\.range)) { tell(.memoryFailureActionOptional, range, epoch: epoch) }
    }

    /// After the ring dropped records: re-derives what failed in `mappings`
    /// from the marks the handler left in the range table (and a file's size),
    /// and tells what was not told yet, marked `reconstructed`, in the epoch of
    /// the mapping's newest mark (a mapping made since is not concerned).
    func reconcile(_ mappings: [DaxMapping]) {
        guard device.lifecycle == .alive else { return }
        if device.hasVanished() {
            startRemoval(source: .accessError)
            return
        }
        for mapping in mappings {
            let marks = mapping.markedFailures()
            let epoch = mapping.markedEpoch // after the marks: at least as new as any of them
            for failed in marks {
                let cause = FailureCause(reconstructing: failed.kind, epoch: epoch)
                if cause.kind == .removed {
                    if device.kind == .deviceDax {
                        startRemoval(source: .accessError)
                        return
                    }
                    _ = tellRemovedTail(reconstructed: true)
                }
                tell(cause, failed.range)
            }
        }
    }

    /// A truncated file: everything from its new size to the end of the device
    /// is gone. Marked in the handler's table (so guarded accesses refuse it
    /// without faulting) and told once as one range, in the epoch before the
    /// size was read (a mapping made after that is on the file as it is now).
    /// - Returns: whether the file was shorter than the device.
    private func tellRemovedTail(reconstructed: Bool = false) -> Bool {
        let epoch = DaxFailure.epochNow
        guard let size = device.backingSize(), size < device.size else { return false }
        let tail = size..<device.size
        // Not a mapping made since the size was read: the file may be whole again under it.
        for mapping in registry.mappings(of: device) where mapping.id <= epoch { mapping.mark(.removed, tail) }
        tell(.removed, tail, epoch: epoch, reconstructed: reconstructed)
        return true
    }

    // MARK: - Telling holders

    /// Tells a failure of `kind` over `range`, observed in `epoch` (see ``tell(_:_:)``).
    func tell(_ kind: FailureCause.Kind, _ range: Range<UInt64>, epoch: UInt64, reconstructed: Bool = false) {
        tell(FailureCause(kind, epoch: epoch, reconstructed: reconstructed), range)
    }

    /// Tells each holder of a mapping that intersects `range` the part of it
    /// that holder was not told yet (for the cause's kind), once, clamped to
    /// its mappings. Pages lost inside a range already told `removed` are not
    /// told again. Only mappings that existed in the cause's epoch (when the
    /// failure was observed) are concerned: one made later at the same
    /// offsets is never told it. Causes holders are never told are dropped.
    func tell(_ cause: FailureCause, _ range: Range<UInt64>) {
        guard DaxFailure.Kind(cause.kind) != nil else { return }
        let kind = cause.kind
        let (held, _) = registry.holders(of: device, intersecting: range)
        var told: [Range<UInt64>: Int] = [:]
        for (holder, mappings) in held {
            var pieces: [Range<UInt64>] = []
            var concerned: [DaxMapping] = []
            state.withLock { s in
                for mapping in mappings where cause.concerns(mappingID: mapping.id) {
                    let part = range.clamped(to: mapping.deviceRange)
                    var ledger = s.told[mapping.id, default: [:]][kind] ?? RangeLedger()
                    var fresh = ledger.missing(from: part)
                    if kind == .pagesLost, let removed = s.told[mapping.id]?[.removed] {
                        fresh = fresh.flatMap { removed.missing(from: $0) }
                    }
                    guard !fresh.isEmpty else { continue }
                    for piece in fresh { ledger.add(piece) }
                    s.told[mapping.id, default: [:]][kind] = ledger
                    pieces += fresh
                    concerned.append(mapping)
                }
            }
            for piece in RangeLedger.coalesced(pieces) {
                guard let failure = DaxFailure(device: device.path, range: piece, cause: cause,
                                               mappings: concerned.filter { $0.deviceRange.overlaps(piece) }) else { continue }
                call(holder, failure, calls: HolderCalls())
                told[piece, default: 0] += 1
            }
        }
        for (piece, holders) in told.sorted(by: { $0.key.lowerBound < $1.key.lowerBound }) {
            guard let failure = DaxFailure(device: device.path, range: piece, cause: cause) else { continue }
            Telemetry.notified(failure, holders: holders)
            device.publish(.notified(failure, holders: holders))
        }
    }

    func call(_ holder: any DaxHolder, _ failure: DaxFailure, calls: HolderCalls,
              then: @escaping @Sendable () -> Void = {}) {
        let event = failure.withoutMappings
        // Weak: a holder that never answers must not keep the device alive.
        calls.call(holder, failure) { [weak device] handled in
            if let device, DaxRuntime.process.eventsIfMade?.isObserved == true {
                device.publish(.answered(event, holder: HolderCalls.name(of: holder), handled: handled))
            }
            then()
        }
    }

    /// A mapping left the registry (closed or deinitialised): forget what its holder was told.
    func forget(_ id: UInt64) {
        _ = state.withLock { $0.told.removeValue(forKey: id) }
    }
}
