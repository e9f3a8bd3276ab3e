import ArgumentParser
import DaxMap

/// Re-maps devices and checks every acknowledged record: the other half of `hold`.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that every record 'daxmap hold' acknowledged reads back intact.")

    @Argument(help: "Devices or files to check (default: every device in the log).")
    var paths: [String] = []

    @Option(help: "The log written by 'daxmap hold --acked'.")
    var acked: String

    @Flag(help: "Print JSON (the default output is the same object).")
    var json = false

    func run() throws {
        var acknowledged = 0, verified = 0
        var firstBad: String?
        do {
            let entries = try AckLog(path: acked).read()
            let devices = paths.isEmpty ? Array(Set(entries.map(\.device))).sorted() : paths
            for path in devices {
                let mine = entries.filter { $0.device == path }
                guard !mine.isEmpty else { continue }
                let device = try DaxDevice.open(path, options: .init(requiredGranularity: .page, readOnly: true))
                let holders = (mine.map(\.holder).max() ?? 0) + 1
                let slice = mine[0].slice
                let mapping = try device.map(offset: 0, length: slice * UInt64(holders), options: .init(readOnly: true))
                var buffer = [UInt8](repeating: 0, count: RecordFormat.size)
                for entry in mine {
                    acknowledged += entry.count
                    for seq in 0..<entry.count {
                        let at = Int(UInt64(entry.holder) * slice) + seq * RecordFormat.size
                        try buffer.withUnsafeMutableBytes { try mapping.read(at: at, into: $0) }
                        if buffer.withUnsafeBytes({ RecordFormat.verify(holder: entry.holder, sequence: UInt64(seq), $0) }) {
                            verified += 1
                        } else if firstBad == nil {
                            firstBad = "\(path) holder \(entry.holder) record \(seq) at offset \(at)"
                        }
                    }
                }
                mapping.close()
                device.close()
            }
        } catch { throw fail(asDaxError(error)) }
        var fields: [(String, JSON)] = [
            ("recordsAcknowledged", .int(Int64(acknowledged))),
            ("recordsVerified", .int(Int64(verified))),
            ("recordsLost", .int(Int64(acknowledged - verified))),
        ]
        if let firstBad { fields.append(("firstLost", .string(firstBad))) }
        printLine(JSON.object(fields).rendered(pretty: false))
        if acknowledged != verified { throw ExitCode(1) }
    }
}
