import DaxMap
import Glibc

/// The acknowledgement file shared by `hold` and `verify` on disk (its text:
/// ``AckFileFormat``). Rewritten atomically: a temporary file of an
/// unguessable name created with `O_CREAT|O_EXCL|O_NOFOLLOW` (nobody can plant
/// it first), written, fsynced and renamed over the path. daxmap never removes
/// or replaces a file it did not write: an existing PATH must already be an
/// acknowledgement file.
struct AckFile {
    typealias Entry = AckFileFormat.Entry
    let path: String

    static let maximumHolders = AckFileFormat.maximumHolders

    /// Fails now, with the reason, when the file cannot be written later, or
    /// when PATH exists and is not an acknowledgement file (it is never replaced).
    func checkWritable() throws(DaxError) {
        if case .success(let st) = Syscalls.status(ofLink: path) {
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                try refuseUnlessAcknowledgementFile()
            case S_IFLNK:
                throw DaxError(.invalidArgument, operation: "acked", path: path,
                               message: "is a symbolic link: the acknowledgement file is never written through one; give the path of a new file or of an acknowledgement file")
            default:
                throw DaxError(.invalidArgument, operation: "acked", path: path,
                               message: "is not a regular file (a directory, FIFO or device); give a file path for the acknowledgement file")
            }
        }
        // A probe of our own (unguessable, O_EXCL): removing it removes nothing of anyone's.
        let (fd, probe) = try createTemporary()
        Syscalls.close(fd)
        _ = Syscalls.unlink(probe)
    }

    /// An existing PATH that does not begin with the format's first line is someone's file.
    private func refuseUnlessAcknowledgementFile() throws(DaxError) {
        let fd: CInt
        switch Syscalls.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK) {
        case .success(let f): fd = f
        case .failure(let errno):
            throw DaxError(.permissionDenied, operation: "acked", path: path, errno: errno,
                           message: "exists and cannot be read to check that it is an acknowledgement file (\(Syscalls.describe(errno)))")
        }
        defer { Syscalls.close(fd) }
        let first = Array((AckFileFormat.header + "\n").utf8)
        var head = [UInt8](repeating: 0, count: first.count)
        let n = head.withUnsafeMutableBytes { Syscalls.read(fd, into: $0, at: 0) }
        guard case .success(first.count) = n, head == first else {
            let size = Syscalls.status(of: fd).map { "\($0.st_size) bytes" }
            throw DaxError(.invalidArgument, operation: "acked", path: path,
                           message: "exists and is not a daxmap acknowledgement file (\((try? size.get()) ?? "unreadable"), its first line is not '\(AckFileFormat.header)'): hold would replace it; give a new path, or remove the file yourself")
        }
    }

    /// A new file next to PATH that nobody could have created first.
    private func createTemporary() throws(DaxError) -> (CInt, String) {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<16 {
            let name = path + ".tmp-" + String(random.next() as UInt64, radix: 36)
            switch Syscalls.open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644) {
            case .success(let fd): return (fd, name)
            case .failure(.fileExists): continue
            case .failure(let errno):
                throw DaxError(.permissionDenied, operation: "acked", path: path, errno: errno,
                               message: "cannot write the acknowledgement file next to it (\(Syscalls.describe(errno)))")
            }
        }
        throw DaxError(.system, operation: "acked", path: path,
                       message: "cannot write the acknowledgement file next to it (16 new names taken at once)")
    }

    func write(_ entries: [Entry]) throws(DaxError) {
        let text = AckFileFormat.render(entries)
        let (fd, temporary) = try createTemporary()
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Syscalls.writeAll(fd, $0) }
        let synced = Syscalls.fsync(fd)
        Syscalls.close(fd)
        func failed(_ errno: Syscalls.Failure) -> DaxError {
            _ = Syscalls.unlink(temporary) // ours: created O_EXCL above
            return DaxError(.system, operation: "acked", path: path, errno: errno,
                            message: "cannot write the acknowledgement file (\(Syscalls.describe(errno)))")
        }
        if case .failure(let e) = written { throw failed(e) }
        if case .failure(let e) = synced { throw failed(e) }
        if case .failure(let e) = Syscalls.rename(temporary, to: path) { throw failed(e) }
    }

    /// Reads and checks the file (see ``AckFileFormat/parse(_:path:)``).
    func read() throws(DaxError) -> [Entry] {
        func bad(_ why: String) -> DaxError { DaxError(.invalidArgument, operation: "verify", path: path, message: why) }
        // O_NONBLOCK: a FIFO must not hang the open; it is refused just after.
        let fd: CInt
        switch Syscalls.open(path, O_RDONLY | O_NONBLOCK) {
        case .success(let f): fd = f
        case .failure(let errno):
            throw DaxError(errno == .noSuchFileOrDirectory ? .notFound : .system, operation: "verify", path: path, errno: errno,
                           message: "cannot read the acknowledgement file (\(Syscalls.describe(errno)))")
        }
        defer { Syscalls.close(fd) }
        guard case .success(let st) = Syscalls.status(of: fd), st.st_mode & S_IFMT == S_IFREG else {
            throw bad("the acknowledgement file is not a regular file (a directory, FIFO or device): nothing was verified")
        }
        guard st.st_size > 0 else { throw bad("the acknowledgement file is empty: nothing was verified") }
        guard st.st_size <= 16 << 20 else { throw bad("the acknowledgement file is \(st.st_size) bytes, too large to be one") }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        let n = bytes.withUnsafeMutableBytes { Syscalls.read(fd, into: $0, at: 0) }
        guard case .success(bytes.count) = n else { throw bad("cannot read the whole acknowledgement file") }
        return try AckFileFormat.parse(bytes, path: path)
    }
}
