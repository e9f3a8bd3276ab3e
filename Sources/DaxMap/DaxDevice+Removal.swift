internal import CDaxMap
import Glibc
import Synchronization

/// What a removal did, reported when it completes.
public struct DaxRemovalReport: Sendable, Hashable, CustomStringConvertible {
    public var device: String
    public var source: RemovalSource
    /// Distinct holders told `preRemove`.
    public var holdersNotified: Int
    /// Holders that answered `true` before the deadline.
    public var holdersHandled: Int
    /// Mappings their holders closed before the deadline.
    public var mappingsReleased: Int
    /// Mappings still open at the deadline (or without a holder), now `PROT_NONE`.
    public var mappingsRevoked: Int
    /// From freeze to completion.
    public var duration: Duration

    public var description: String {
        "\(device) (\(source)): \(holdersNotified) holder(s) notified, \(mappingsReleased) mapping(s) released, \(mappingsRevoked) revoked in \(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000) ms"
    }
}

extension DaxDevice {
    /// Removes the device from this process, as the kernel's pre-remove does for
    /// a file system: **freeze** (new ``map(offset:length:holder:options:)``
    /// calls throw `.deviceGoing`), **notify** every holder with
    /// ``DaxFailure/Kind/preRemove``, **wait** up to `deadline` for them to close
    /// their mappings, **revoke** what is left, then close the descriptor.
    /// The process stays alive throughout.
    ///
    /// daxmap calls this itself when a uevent, a memory-failure storm or an
    /// access error says the device is going; call it to take a device out of
    /// service. Concurrent calls share one removal.
    @discardableResult
    public func beginRemoval(deadline: Duration? = nil) async -> DaxRemovalReport {
        await remove(source: .request, deadline: deadline)
    }

    @discardableResult
    func remove(source: RemovalSource, deadline: Duration? = nil) async -> DaxRemovalReport {
        let deadline = deadline ?? options.removalDeadline
        let task = state.withLock { s -> Task<DaxRemovalReport, Never> in
            if let running = s.removal { return running }
            let task = Task { await self.runRemoval(source: source, deadline: deadline) }
            s.removal = task
            return task
        }
        return await task.value
    }

    private func runRemoval(source: RemovalSource, deadline: Duration) async -> DaxRemovalReport {
        let clock = ContinuousClock()
        let started = clock.now
        // Freeze.
        let records: [MappingRecord] = state.withLock { s in
            if s.lifecycle == .alive { s.lifecycle = .going }
            return Array(s.mappings.values)
        }
        emit(.removalStarted(device: path, source: source))

        // Notify each holder once, on its own task; mappings nobody holds are revoked at once.
        var holders: [ObjectIdentifier: any DaxHolder] = [:]
        var revoked = 0
        for record in records {
            if let holder = record.holder {
                holders[ObjectIdentifier(holder)] = holder
            } else if record.mapping?.revoke() == true {
                revoked += 1
            }
        }
        let failure = DaxFailure(device: path, range: 0..<size, kind: .preRemove)
        let answers = Tally()
        var calls: [Task<Void, Never>] = []
        for holder in holders.values {
            calls.append(Task {
                if await holder.notifyFailure(failure) { answers.add() }
            })
        }
        if !holders.isEmpty { emit(.notified(failure, holders: holders.count)) }

        // Drain: wait for the holders to close their mappings, up to the deadline.
        let limit = started + deadline
        while clock.now < limit && records.contains(where: { $0.mapping?.state == .open }) {
            try? await Task.sleep(for: .microseconds(500))
        }

        // Revoke what is left, close the descriptor (a descriptor open across a
        // device-dax unbind and re-bind trips a kernel refcount bug).
        for record in records where record.mapping?.revoke() == true { revoked += 1 }
        let fd = state.withLock { s -> CInt in
            s.mappings.removeAll()
            if s.lifecycle != .closed { s.lifecycle = .gone }
            let fd = s.descriptor
            s.descriptor = -1
            return fd
        }
        if fd >= 0 { Syscalls.close(fd) }
        for call in calls { call.cancel() }

        let report = DaxRemovalReport(
            device: path, source: source, holdersNotified: holders.count,
            holdersHandled: answers.value, mappingsReleased: records.count - revoked,
            mappingsRevoked: revoked, duration: clock.now - started)
        emit(.removalCompleted(report))
        finishEvents()
        // Still watched: the kernel's uevent may come after a fault started the
        // removal, and a later add/bind says the device is back.
        return report
    }

    /// Tells the holders whose mappings intersect `range` about a failure.
    /// - Returns: how many holders were told.
    @discardableResult
    func notifyHolders(_ range: Range<UInt64>, kind: DaxFailure.Kind) async -> Int {
        let records = state.withLock { Array($0.mappings.values) }
        var holders: [ObjectIdentifier: any DaxHolder] = [:]
        for record in records where record.range.overlaps(range) {
            if let holder = record.holder { holders[ObjectIdentifier(holder)] = holder }
        }
        guard !holders.isEmpty else { return 0 }
        let failure = DaxFailure(device: path, range: range, kind: kind)
        await withTaskGroup(of: Void.self) { group in
            for holder in holders.values {
                group.addTask { _ = await holder.notifyFailure(failure) }
            }
        }
        emit(.notified(failure, holders: holders.count))
        return holders.count
    }

    /// Whether the memory behind this device has gone: the device-dax node is
    /// unbound or removed, or the file was truncated to nothing or deleted.
    func hasVanished() -> Bool {
        switch kind {
        case .deviceDax:
            let rdev = dev_t(identity.rdev)
            let sysfs = "/sys/dev/char/\(cdaxmap_dev_major(UInt64(rdev))):\(cdaxmap_dev_minor(UInt64(rdev)))"
            return Syscalls.realpath(sysfs + "/driver") == nil
        case .fsdaxFile, .emulated:
            // The block device under a DAX file system disappears with its pfn/namespace.
            if let devpath = sysfsDevicePath, Syscalls.realpath("/sys" + devpath) == nil { return true }
            let fd = state.withLock { $0.descriptor }
            guard fd >= 0, case .success(let st) = Syscalls.status(of: fd) else { return true }
            return st.st_size == 0 || st.st_nlink == 0
        }
    }
}

/// A counter tasks can share.
final class Tally: Sendable {
    private let count = Atomic<Int>(0)
    func add() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
