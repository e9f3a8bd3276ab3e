import ArgumentParser
import DaxLog
import DaxMap

/// Re-opens the logs `hold` wrote and checks every acknowledged record: the other half of `hold`.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that every record 'daxmap hold' acknowledged reads back intact.",
        discussion: """
            Exit 0 when every acknowledged record was read back intact; 1 when one is lost or \
            corrupted, or when nothing could be verified (a missing, empty, cut-off or foreign \
            acknowledgement file, a line that acknowledges no record or repeats another, a claim \
            of more records than the log ever numbered, a device that cannot be opened); 64 on bad arguments.
            """)

    @Argument(help: "Devices or files to check (default: every device in the acknowledgement file).")
    var paths: [String] = []

    @Option(help: "The acknowledgement file written by 'daxmap hold --acked'.")
    var acked: String

    @Flag(help: "Print JSON (the default output is the same object).")
    var json = false

    func run() throws {
        var acknowledged: UInt64 = 0, verified: UInt64 = 0
        var firstBad: String?
        var lostNumbers: UInt64 = 0
        do throws(DaxError) {
            let entries = try AckFile(path: acked).read()
            // A holder that acknowledged nothing (through 0) is a fact the hold reports; a file
            // in which no holder acknowledged anything would verify nothing, and pass silently.
            guard entries.contains(where: { $0.through > 0 }) else {
                throw DaxError(.invalidArgument, operation: "verify", path: acked,
                               message: "the acknowledgement file acknowledged no record (every log line says through 0): there is nothing to verify")
            }
            let listed = Set(entries.map(\.device))
            if let missing = paths.first(where: { !listed.contains($0) }) {
                throw DaxError(.invalidArgument, operation: "verify", path: missing,
                               message: "is not in the acknowledgement file \(acked)")
            }
            let devices = paths.isEmpty ? listed.sorted() : paths
            for path in devices {
                let device = try DaxDevice.open(path, options: .init(requiredGranularity: .page, readOnly: true))
                defer { device.close() }
                for entry in entries where entry.device == path {
                    acknowledged += entry.through
                    let log: DaxLog
                    do {
                        log = try DaxLog.open(device: device, offset: entry.offset, length: entry.length,
                                              options: .init(creation: .never, readOnly: true))
                    } catch {
                        throw DaxError(.invalidArgument, operation: "verify", path: path, offset: entry.offset,
                                       message: "holder \(entry.holder): \(error.message)")
                    }
                    defer { log.close() }
                    let records: [DaxLogRecord]
                    do { records = try log.records() } catch {
                        throw DaxError(.system, operation: "verify", path: path, offset: entry.offset, message: error.description)
                    }
                    // Saturating: a crafted log can claim up to 2^62 numbers lost.
                    let (sum, overflow) = lostNumbers.addingReportingOverflow(log.recovery.lostCount)
                    lostNumbers = overflow ? .max : sum
                    // The work is bounded by what the log holds, never by what the file claims:
                    // more records than the log could ever hold is refused at once.
                    let most = UInt64(max(log.capacity, 0)) / AckFileFormat.smallestRecord
                    guard entry.through <= most || entry.through <= log.nextSequence else {
                        throw DaxError(.invalidArgument, operation: "verify", path: path, offset: entry.offset,
                                       message: "holder \(entry.holder): the acknowledgement file claims \(entry.through) records, but this log holds at most \(most) (it numbered \(log.nextSequence)): the claim cannot be true (another log, or an edited file); nothing was verified")
                    }
                    var good = Set<UInt64>()
                    var wrong = Set<UInt64>()
                    for r in records where r.sequence < entry.through {
                        if r.bytes == RecordPayload.bytes(holder: entry.holder, sequence: r.sequence) {
                            good.insert(r.sequence)
                        } else {
                            wrong.insert(r.sequence)
                        }
                    }
                    verified += UInt64(good.count)
                    if firstBad == nil, UInt64(good.count) < entry.through {
                        // The first number not verified: at most good.count steps.
                        var s: UInt64 = 0
                        while good.contains(s) { s += 1 }
                        let corrupted = log.recovery.corrupted.contains { $0.contains(s) }
                        let why = corrupted ? "corrupted (checksum mismatch; the records after it are intact)"
                            : s >= log.nextSequence ? "missing (the log numbered only \(log.nextSequence) records; \(log.recovery.stop))"
                            : "missing (\(log.recovery.stop))"
                        firstBad = "\(path) holder \(entry.holder) record \(s): \(wrong.contains(s) ? "wrong bytes" : why)"
                    }
                }
            }
        } catch { throw fail(error) }
        var fields: [(String, JSON)] = [
            ("recordsAcknowledged", .uint(acknowledged)),
            ("recordsVerified", .uint(verified)),
            ("recordsLost", .uint(acknowledged - verified)),
            ("sequencesReportedLost", .uint(lostNumbers)),
        ]
        if let firstBad { fields.append(("firstLost", .string(firstBad))) }
        printLine(JSON.object(fields).rendered(pretty: false))
        if acknowledged != verified { throw ExitCode(1) }
    }
}
