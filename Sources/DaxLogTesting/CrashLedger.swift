import DaxLog

/// What a crash-test cycle's writers were told (acknowledged appends and
/// checkpoints, and the checkpoint in flight), and the check of a recovered
/// log against it.
struct CrashLedger {
    /// Acknowledged sequence numbers and who wrote them.
    private(set) var acknowledged: [UInt64: (writer: Int, counter: UInt32)] = [:]
    /// The highest acknowledged `discard(upTo:)`.
    private(set) var discarded: UInt64 = 0
    /// A `discard(upTo:)` that had not returned when the power failed.
    private var discarding: UInt64?
    /// Checkpoints acknowledged.
    private(set) var checkpoints = 0
    /// Each writer's next record number (begun appends count, acknowledged or not).
    private var counters: [UInt32]

    init(writers: Int) { counters = [UInt32](repeating: 0, count: writers) }

    /// The number for `writer`'s next record.
    mutating func nextCounter(_ writer: Int) -> UInt32 {
        defer { counters[writer] += 1 }
        return counters[writer]
    }

    mutating func acknowledge(_ sequence: UInt64, writer: Int, counter: UInt32) {
        acknowledged[sequence] = (writer, counter)
    }

    mutating func discardStarted(upTo sequence: UInt64) { discarding = sequence }

    mutating func discardAcknowledged(upTo sequence: UInt64) {
        discarded = max(discarded, sequence)
        discarding = nil
        checkpoints += 1
    }

    /// After a recovery that passed: the head it found is where the log is
    /// (a checkpoint in flight took effect or did not), and what is below it is gone.
    mutating func settle(first: UInt64) {
        discarded = max(discarded, first)
        discarding = nil
        acknowledged = acknowledged.filter { $0.key >= first }
    }

    struct Verdict {
        var recovered = 0
        var lost = 0
        var corrupt = 0
        var checkpointLost = false
    }

    /// Every acknowledged record that is still live must be there, exactly;
    /// every record returned must be exactly what some writer appended; the
    /// head may not move back before an acknowledged checkpoint.
    func check(first: UInt64, records: [DaxLogRecord], seed: UInt64) -> Verdict {
        var v = Verdict()
        v.recovered = records.count
        v.checkpointLost = first < discarded
        // Records below the head are legitimately gone only up to the checkpoints asked for.
        let live = min(max(first, discarded), max(discarded, discarding ?? 0))
        var found: [UInt64: [UInt8]] = [:]
        for r in records {
            found[r.sequence] = r.bytes
            guard CrashPayload.isGenuine(r.bytes, seed: seed) else {
                v.corrupt += 1
                continue
            }
            if let who = acknowledged[r.sequence], let claim = CrashPayload.claim(r.bytes),
               claim.writer != who.writer || claim.counter != who.counter {
                v.corrupt += 1
            }
        }
        for (sequence, who) in acknowledged where sequence >= live {
            guard let bytes = found[sequence], let claim = CrashPayload.claim(bytes),
                  claim.writer == who.writer, claim.counter == who.counter,
                  CrashPayload.isGenuine(bytes, seed: seed) else {
                v.lost += 1
                continue
            }
        }
        return v
    }
}
