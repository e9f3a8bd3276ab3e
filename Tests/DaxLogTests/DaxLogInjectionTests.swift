import DaxMap
import Glibc
import Synchronization
import Testing
@testable import DaxLog

/// As SQLite tests its I/O errors: a failure at every store and persist point
/// of a short sequence in turn (a fault, a torn store, a kill), then recovery.
/// Every acknowledged record comes back, with its bytes, and nothing else does.
@Suite struct DaxLogInjectionTests {
    enum Step { case one(UInt64), batch(Range<UInt64>), discard(UInt64) }
    static let steps: [Step] = [.one(0), .one(1), .batch(2..<4), .one(4), .discard(2), .one(5), .batch(6..<9)]

    /// Runs the steps; returns what was acknowledged (and whether the discard was).
    static func run(_ log: DaxLog) -> (acked: Set<UInt64>, discarded: Bool) {
        var acked = Set<UInt64>(), discarded = false
        for step in steps {
            do {
                switch step {
                case .one(let s): acked.insert(try log.append(payload(s)))
                case .batch(let r): for s in try log.append(contentsOf: r.map(payload)) { acked.insert(s) }
                case .discard(let s):
                    try log.discard(upTo: s)
                    discarded = true
                }
            } catch { break }
        }
        return (acked, discarded)
    }

    final class Plan: Sendable {
        let target: Int, action: StoreAction
        let count = Atomic<Int>(0)
        init(_ target: Int, _ action: StoreAction) { self.target = target; self.action = action }
        func next(_ point: StorePoint) -> StoreAction {
            count.add(1, ordering: .relaxed).newValue - 1 == target ? action : .proceed
        }
    }

    @Test func everyAcknowledgedRecordSurvivesAFailureAtEveryStoreAndPersistPoint() throws {
        let counting = Plan(-1, .proceed)
        do {
            let dir = TemporaryDirectory()
            defer { dir.remove() }
            let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 20))
            log.inject { counting.next($0) }
            #expect(Self.run(log).acked == Set(0..<9))
        }
        let points = counting.count.load(ordering: .relaxed)
        #expect(points >= 14, "stores and persists of 5 appends and a checkpoint")
        var cases = 0
        for k in 0..<points {
            for action in [StoreAction.fault, .tear(bytes: 20), .kill] {
                let dir = TemporaryDirectory()
                defer { dir.remove() }
                let path = dir.file("dev")
                let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: 1 << 20))
                let plan = Plan(k, action)
                log.inject { plan.next($0) }
                let (acked, discarded) = Self.run(log)
                #expect(acked.count < 9 || k >= points, "point \(k) \(action): the failure was injected")
                let recovered: DaxLog
                if case .fault = action {
                    // The same process carries on: reattach.
                    log.inject(nil)
                    try log.reattach()
                    recovered = log
                } else {
                    // The process died: a new one opens the file.
                    log.close()
                    recovered = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
                }
                let r = recovered.recovery
                let where_ = "point \(k) \(action): \(r)"
                #expect(r.lost.isEmpty, "\(where_)")
                #expect(r.failedRanges.isEmpty, "\(where_)")
                switch r.stop {
                case .cleanEnd, .tornTail: break
                default: Issue.record("stopped at \(r.stop): \(where_)")
                }
                let records = try recovered.records()
                let numbers = records.map(\.sequence)
                #expect(records.allSatisfy { $0.bytes == payload($0.sequence) }, "\(where_)")
                // Past the records, only numbers the lease may have handed out (after a
                // kill, never acknowledged), and never reused.
                let end = r.unaccounted.first?.lowerBound ?? r.nextSequence
                #expect(r.unaccounted.isEmpty || r.unaccounted == [end..<r.nextSequence], "\(where_)")
                #expect(numbers == Array(r.firstSequence..<end), "\(where_)")
                #expect(r.firstSequence == 0 || r.firstSequence == 2, "\(where_)")
                if discarded { #expect(r.firstSequence == 2, "\(where_)") }
                #expect(acked.filter { $0 >= r.firstSequence }.isSubset(of: Set(numbers)), "acked lost: \(where_)")
                #expect(end <= 9, "\(where_)")
                // And the log goes on.
                let s = try recovered.append(payload(r.nextSequence))
                #expect(s == r.nextSequence)
                recovered.close()
                let after = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
                #expect(try after.records().map(\.sequence) == numbers + [s], "\(where_)")
                cases += 1
            }
        }
        #expect(cases == points * 3)
    }
}
