import DaxMap
import Glibc

/// The log of acknowledged records shared by `hold` and `verify`: one line per
/// holder, `acked PATH SLICE HOLDER COUNT`, rewritten atomically (write, fsync, rename).
struct AckLog {
    let path: String

    struct Entry: Equatable {
        var device: String
        var slice: UInt64
        var holder: Int
        var count: Int
    }

    func write(_ devices: [(path: String, slice: UInt64, counts: [Int])]) {
        var text = "# daxmap acknowledged records, format 1\n"
        for d in devices {
            for (holder, count) in d.counts.enumerated() {
                text += "acked \(d.path) \(d.slice) \(holder) \(count)\n"
            }
        }
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        text.withUTF8 { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        rename(temporary, path)
    }

    /// Parses the log; lines that do not parse are an error naming the line.
    func read() throws(DaxError) -> [Entry] {
        guard let file = fopen(path, "r") else {
            throw DaxError(.notFound, operation: "verify", path: path, message: "cannot read the acknowledged-records log")
        }
        defer { fclose(file) }
        var entries: [Entry] = []
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        var number = 0
        while getline(&line, &capacity, file) > 0 {
            number += 1
            let text = String(cString: line!).split(separator: "\n").first.map(String.init) ?? ""
            if text.isEmpty || text.hasPrefix("#") { continue }
            let f = text.split(separator: " ")
            guard f.count == 5, f[0] == "acked", let slice = UInt64(f[2]), let holder = Int(f[3]), let count = Int(f[4]),
                  holder >= 0, count >= 0 else {
                free(line)
                throw DaxError(.invalidArgument, operation: "verify", path: path, message: "line \(number) is not 'acked PATH SLICE HOLDER COUNT': \(text)")
            }
            entries.append(Entry(device: String(f[1]), slice: slice, holder: holder, count: count))
        }
        free(line)
        return entries
    }
}
