import DaxMap

/// The text of the acknowledgement file shared by `hold` and `verify`, apart
/// from any file: what `daxmap-fuzz --target ackfile` runs (this file is
/// linked into Tests/FuzzKit). Format 2:
///
/// ```
/// daxmap-acked 2
/// log HOLDER OFFSET LENGTH THROUGH PATH
/// end COUNT
/// ```
/// PATH is percent-encoded (spaces, newlines, `%` and control bytes), so any
/// path survives; `end COUNT` makes a cut-off file an error, not fewer records.
enum AckFileFormat {
    /// One log `hold` wrote and how far it was acknowledged.
    struct Entry: Equatable {
        var device: String
        var holder: Int
        var offset: UInt64
        var length: UInt64
        /// Sequence numbers 0..<through were acknowledged.
        var through: UInt64
    }

    static let header = "daxmap-acked 2"
    static let maximumHolders = 256
    /// The smallest record a log holds (its frame): no log of LENGTH bytes numbers more than LENGTH / 32.
    static let smallestRecord: UInt64 = 32

    static func render(_ entries: [Entry]) -> String {
        var text = header + "\n"
        for e in entries {
            text += "log \(e.holder) \(e.offset) \(e.length) \(e.through) \(encode(e.device))\n"
        }
        return text + "end \(entries.count)\n"
    }

    /// Checks and reads the text of an acknowledgement file. Anything that is not a
    /// complete format-2 file listing at least one log, each once, each with at
    /// least one acknowledged record, is an error naming the line and why: a
    /// verification that could check nothing must not pass.
    static func parse(_ bytes: [UInt8], path: String) throws(DaxError) -> [Entry] {
        func bad(_ why: String) -> DaxError { DaxError(.invalidArgument, operation: "verify", path: path, message: why) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw bad("the acknowledgement file is not text (binary data?): nothing was verified")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = lines.first, first == header else {
            throw bad("line 1 is not '\(header)': not an acknowledgement file of this daxmap (\(lines.first.map { String($0.prefix(60)) } ?? ""))")
        }
        var entries: [Entry] = []
        var ended = false
        for (i, line) in lines.enumerated().dropFirst() {
            let number = i + 1
            if line.isEmpty && i == lines.count - 1 { break }
            guard !ended else { throw bad("line \(number) follows the 'end' line") }
            let f = line.split(separator: " ", omittingEmptySubsequences: false)
            if f.first == "end" {
                guard f.count == 2, let count = Int(f[1]), count == entries.count else {
                    throw bad("line \(number): 'end' does not match the \(entries.count) log lines (a cut or edited file)")
                }
                ended = true
                continue
            }
            guard f.count == 6, f[0] == "log", let holder = Int(f[1]), let offset = UInt64(f[2]),
                  let length = UInt64(f[3]), let through = UInt64(f[4]), let device = decode(f[5]) else {
                throw bad("line \(number) is not 'log HOLDER OFFSET LENGTH THROUGH PATH': \(line.prefix(80))")
            }
            guard (0..<maximumHolders).contains(holder) else {
                throw bad("line \(number): holder \(holder) is outside 0..<\(maximumHolders)")
            }
            guard !offset.addingReportingOverflow(length).overflow, length > 0, length <= UInt64(Int.max) else {
                throw bad("line \(number): the range of \(length) bytes at \(offset) is not a range")
            }
            guard through <= length / smallestRecord else {
                throw bad("line \(number): \(through) records cannot fit in \(length) bytes")
            }
            if let twin = entries.firstIndex(where: { $0.device == device && ($0.holder == holder
                || ($0.offset < offset + length && offset < $0.offset + $0.length)) }) {
                throw bad("line \(number): holder \(holder) at \(offset) repeats or overlaps line \(twin + 2) (holder \(entries[twin].holder) at \(entries[twin].offset)) on the same device: each log is listed once")
            }
            entries.append(Entry(device: device, holder: holder, offset: offset, length: length, through: through))
        }
        guard ended else { throw bad("the 'end' line is missing: the file was cut off") }
        guard !entries.isEmpty else { throw bad("the acknowledgement file lists no log: nothing was verified") }
        return entries
    }

    static func encode(_ path: String) -> String {
        var out = ""
        for b in path.utf8 {
            if b <= 0x20 || b == 0x25 || b >= 0x7F {
                let hex = String(b, radix: 16, uppercase: true)
                out += "%" + (hex.count < 2 ? "0" + hex : hex)
            } else {
                out.unicodeScalars.append(Unicode.Scalar(b))
            }
        }
        return out
    }

    static func decode(_ field: Substring) -> String? {
        var bytes: [UInt8] = []
        let u = field.utf8
        var i = u.startIndex
        while i < u.endIndex {
            if u[i] == 0x25 {
                let a = u.index(after: i)
                guard a < u.endIndex, u.index(after: a) < u.endIndex,
                      let v = UInt8(String(decoding: u[a...u.index(after: a)], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(v)
                i = u.index(a, offsetBy: 2)
            } else {
                bytes.append(u[i])
                i = u.index(after: i)
            }
        }
        guard !bytes.isEmpty else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
