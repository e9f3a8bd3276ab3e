import DaxMap
import Glibc

/// The acknowledgement file shared by `hold` and `verify`: which logs `hold`
/// wrote and how far each was acknowledged. Rewritten atomically (write,
/// fsync, rename). Format 2:
///
/// ```
/// daxmap-acked 2
/// log HOLDER OFFSET LENGTH THROUGH PATH
/// end COUNT
/// ```
/// PATH is percent-encoded (spaces, newlines, `%` and control bytes), so any
/// path survives; `end COUNT` makes a cut-off file an error, not fewer records.
struct AckFile {
    let path: String

    struct Entry: Equatable {
        var device: String
        var holder: Int
        var offset: UInt64
        var length: UInt64
        /// Sequence numbers 0..<through were acknowledged.
        var through: UInt64
    }

    static let maximumHolders = 256

    /// Fails now, with the reason, when the file cannot be written later.
    func checkWritable() throws(DaxError) {
        var st = stat()
        if stat(path, &st) == 0, st.st_mode & S_IFMT != S_IFREG {
            throw DaxError(.invalidArgument, operation: "acked", path: path,
                           message: "is not a regular file (a directory, FIFO or device); give a file path for the acknowledgement file")
        }
        let probe = path + ".tmp"
        let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            let e = errno
            throw DaxError(.permissionDenied, operation: "acked", path: path, errno: .init(rawValue: e),
                           message: "cannot write the acknowledgement file next to it (\(String(cString: strerror(e))))")
        }
        close(fd)
        unlink(probe)
    }

    func write(_ entries: [Entry]) throws(DaxError) {
        var text = "daxmap-acked 2\n"
        for e in entries {
            text += "log \(e.holder) \(e.offset) \(e.length) \(e.through) \(Self.encode(e.device))\n"
        }
        text += "end \(entries.count)\n"
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            let e = errno
            throw DaxError(.system, operation: "acked", path: temporary, errno: .init(rawValue: e),
                           message: "cannot write the acknowledgement file (\(String(cString: strerror(e))))")
        }
        let written = text.withUTF8 { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == text.utf8.count, synced == 0, rename(temporary, path) == 0 else {
            let e = errno
            unlink(temporary)
            throw DaxError(.system, operation: "acked", path: path, errno: .init(rawValue: e),
                           message: "cannot write the acknowledgement file (\(String(cString: strerror(e))))")
        }
    }

    /// Reads and checks the file. Anything that is not a complete format-2
    /// file listing at least one log is an error naming the line and why.
    func read() throws(DaxError) -> [Entry] {
        func bad(_ why: String) -> DaxError { DaxError(.invalidArgument, operation: "verify", path: path, message: why) }
        // O_NONBLOCK: a FIFO must not hang the open; it is refused just after.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw DaxError(e == ENOENT ? .notFound : .system, operation: "verify", path: path, errno: .init(rawValue: e),
                           message: "cannot read the acknowledgement file (\(String(cString: strerror(e))))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw bad("the acknowledgement file is not a regular file (a directory, FIFO or device): nothing was verified")
        }
        guard st.st_size > 0 else { throw bad("the acknowledgement file is empty: nothing was verified") }
        guard st.st_size <= 16 << 20 else { throw bad("the acknowledgement file is \(st.st_size) bytes, too large to be one") }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n == bytes.count else { throw bad("cannot read the whole acknowledgement file") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw bad("the acknowledgement file is not text (binary data?): nothing was verified")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == "daxmap-acked 2" else {
            throw bad("line 1 is not 'daxmap-acked 2': not an acknowledgement file of this daxmap (\(lines.first.map { String($0.prefix(60)) } ?? ""))")
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
                  let length = UInt64(f[3]), let through = UInt64(f[4]), let device = Self.decode(f[5]) else {
                throw bad("line \(number) is not 'log HOLDER OFFSET LENGTH THROUGH PATH': \(line.prefix(80))")
            }
            guard (0..<Self.maximumHolders).contains(holder) else {
                throw bad("line \(number): holder \(holder) is outside 0..<\(Self.maximumHolders)")
            }
            guard !offset.addingReportingOverflow(length).overflow, length > 0, length <= UInt64(Int.max) else {
                throw bad("line \(number): the range of \(length) bytes at \(offset) is not a range")
            }
            guard through <= length / 32 else {
                throw bad("line \(number): \(through) records cannot fit in \(length) bytes")
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
                out += "%" + String(b, radix: 16, uppercase: true).leftPadded(2)
            } else {
                out.unicodeScalars.append(Unicode.Scalar(b))
            }
        }
        return out
    }

    static func decode(_ field: Substring) -> String? {
        var bytes: [UInt8] = []
        var i = field.utf8.startIndex
        let u = field.utf8
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

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
