import ArgumentParser
import DaxMap
import Glibc

/// Maps a whole device, writes, persists, verifies, and shows how it was faulted.
struct MapCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map-check",
        abstract: "Map the whole device, write a pattern, persist, verify; report page faults and PMD mappings.",
        discussion: "An existing file holding data is overwritten only with --force (unless it holds map-check's own pattern). Exit 0 when the pattern read back, 1 when it did not or on an error (such a file without --force: nothing is written), 64 on bad arguments.")

    @Argument(help: "A /dev/daxX.Y, a DAX file or a plain file (its contents are overwritten: an existing file holding data only with --force).")
    var path: String

    @Flag(help: "Let map-check overwrite an existing file that holds data (without it such a file is refused).")
    var force = false

    @Flag(help: "Print one JSON object instead of a line of text.")
    var json = false

    func run() throws {
        let page = Syscalls.pageSize
        var usage = rusage()
        do {
            try OverwriteRule.check(path, command: "map-check", force: force, what: "its contents with a test pattern",
                                    mark: .mapCheckPattern)
            let device = try DaxDevice.open(path, options: .init(requiredGranularity: .page))
            let mapping = try device.map()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            let before = usage.ru_minflt
            var line = [UInt8](repeating: 0, count: 64)
            // One cache line per page faults every page in, at whatever size the kernel chose.
            for at in stride(from: 0, to: mapping.count, by: page) {
                for i in 0..<8 { line[i] = UInt8(truncatingIfNeeded: (at / page) >> (8 * i)) }
                try line.withUnsafeBytes { try mapping.write($0, at: at, persist: false) }
            }
            try mapping.persistAll()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            let faults = usage.ru_minflt - before
            let pmd = smapsField("FilePmdMapped", at: mapping)
            var verified = true
            for at in stride(from: 0, to: mapping.count, by: page) {
                try line.withUnsafeMutableBytes { try mapping.read(at: at, into: $0) }
                for i in 0..<8 where line[i] != UInt8(truncatingIfNeeded: (at / page) >> (8 * i)) { verified = false }
            }
            let fields: [(String, JSON)] = [
                ("path", .string(path)),
                ("kind", .string(device.kind.rawValue)),
                ("size", .uint(UInt64(mapping.count))),
                ("align", .uint(device.alignment)),
                ("granularity", .string(device.granularity.description)),
                ("verified", .bool(verified)),
                ("minorFaults", .int(Int64(faults))),
                ("pmdMapped", pmd.map { .uint($0) } ?? .null),
            ]
            printLine(json ? JSON.object(fields).rendered(pretty: false)
                : "\(path): \(device.kind), \(mapping.count) bytes mapped (align \(device.alignment), \(device.granularity)); pattern \(verified ? "verified" : "NOT verified"); \(faults) minor faults\(pmd.map { ", \($0) bytes PMD-mapped" } ?? "")")
            mapping.close()
            device.close()
            if !verified { throw ExitCode(1) }
        } catch let error as DaxError {
            throw fail(error)
        } catch let error as ExitCode {
            throw error
        } catch { throw fail(asDaxError(error)) }
    }

    /// A field of /proc/self/smaps, in bytes, for the VMA that starts at the mapping.
    private func smapsField(_ name: String, at mapping: DaxMapping) -> UInt64? {
        let start = mapping.withUnsafeMutableBytes { UInt(bitPattern: $0.baseAddress) }
        let prefix = String(start, radix: 16) + "-"
        guard let file = fopen("/proc/self/smaps", "r") else { return nil }
        defer { fclose(file) }
        var inside = false
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            let text = String(cString: line!)
            if let first = text.first, first.isHexDigit, text.contains("-") {
                inside = text.hasPrefix(prefix)
            } else if inside && text.hasPrefix(name + ":") {
                let kb = text.split(separator: " ").dropFirst().first.flatMap { UInt64($0) }
                return kb.map { $0 * 1024 }
            }
        }
        return nil
    }
}
