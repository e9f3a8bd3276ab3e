import DaxMap
import Glibc
import SystemPackage

/// The file next to an emulated device that persists its injected failures,
/// so they survive close and reopen and meet the next process that maps the
/// device, as real poison does: `<device>.daxmap-injected`, one
/// `KIND OFFSET LENGTH` line per failure (`media` or `removed`, decimal device
/// offsets), `#` comments. Replaced atomically: a temporary file created in
/// the sidecar's folder (opened once) under an unguessable name with
/// `O_CREAT|O_EXCL|O_NOFOLLOW`, so a name planted there first (a symbolic link
/// to someone's file, in a world-writable folder) is never written through;
/// then `fsync` and `renameat`. Read with `O_NOFOLLOW` and only as a regular
/// file. Writers serialise on `flock` of the device file; no sidecar means no
/// injected failure.
package struct InjectionSidecar: Sendable {
    static let suffix = ".daxmap-injected"
    /// A sidecar larger than this is refused, not read.
    static let sizeLimit = 16 << 20

    /// The device as given, and the sidecar next to the file it resolves to.
    let devicePath: String
    let path: String
    /// The sidecar's folder and its name there.
    let folder: String
    let name: String

    init(devicePath: String) {
        self.devicePath = devicePath
        self.path = (Syscalls.realpath(devicePath) ?? devicePath) + Self.suffix
        if let slash = path.lastIndex(of: "/") {
            folder = slash == path.startIndex ? "/" : String(path[..<slash])
            name = String(path[path.index(after: slash)...])
        } else {
            folder = "."
            name = path
        }
    }

    /// What the sidecar records; empty when there is none.
    /// - Throws: `.invalidArgument` naming the line of a malformed sidecar, or
    ///   a sidecar that is a symbolic link or not a regular file;
    ///   `.permissionDenied`, `.system`.
    func load(operation: String) throws(DaxError) -> InjectedRanges {
        let fd: CInt
        // O_NONBLOCK: a FIFO planted under the name must not block the open.
        switch Syscalls.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK) {
        case .success(let f): fd = f
        case .failure(.noSuchFileOrDirectory): return InjectedRanges()
        case .failure(.tooManySymbolicLinkLevels):
            throw DaxError(.invalidArgument, operation: operation, path: path,
                           message: "the injection sidecar of \(devicePath) is a symbolic link, which daxmap never follows (someone may have planted it); remove it, or clear every injected failure (daxmap inject PATH --clear)")
        case .failure(let errno):
            throw DaxError(errno == .permissionDenied ? .permissionDenied : .system, operation: operation, path: path,
                           errno: errno, message: "cannot read the injection sidecar of \(devicePath)")
        }
        defer { Syscalls.close(fd) }
        guard case .success(let st) = Syscalls.status(of: fd), (st.st_mode & S_IFMT) == S_IFREG else {
            throw DaxError(.invalidArgument, operation: operation, path: path,
                           message: "the injection sidecar of \(devicePath) is not a regular file; remove it, or clear every injected failure (daxmap inject PATH --clear)")
        }
        let bytes: [UInt8]
        switch Syscalls.readAll(fd, limit: Self.sizeLimit) {
        case .success(let b): bytes = b
        case .failure(let errno):
            throw DaxError(.system, operation: operation, path: path, errno: errno,
                           message: "cannot read the injection sidecar of \(devicePath)"
                               + (errno == .fileTooLarge ? ": it is larger than \(Self.sizeLimit) bytes" : ""))
        }
        switch Self.parse(String(decoding: bytes, as: UTF8.self)) {
        case .success(let failures): return InjectedRanges(failures)
        case .failure(let error): throw malformed(operation, error.line, error.why)
        }
    }

    /// Why a sidecar's text is malformed: the line (from 1) and what is wrong there.
    package struct Malformed: Error, Sendable {
        /// The line, counted from 1.
        package var line: Int
        /// What is wrong on it.
        package var why: String
    }

    /// The failures a sidecar's text records, in file order; outside input
    /// (any user may write the file), so every text gives a value or a `Malformed`.
    package static func parse(_ text: String) -> Result<[DaxInjectedFailure], Malformed> {
        var failures: [DaxInjectedFailure] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.isEmpty { continue }
            guard fields.count == 3, let kind = DaxInjectedFailure.Kind(rawValue: String(fields[0])),
                  let offset = UInt64(fields[1]), let length = UInt64(fields[2]), length > 0 else {
                let shown = line.count > 200 ? line.prefix(200) + "..." : line
                return .failure(Malformed(line: index + 1, why: "expected 'media|removed OFFSET LENGTH', found '\(shown)'"))
            }
            let (end, overflow) = offset.addingReportingOverflow(length)
            guard !overflow else {
                return .failure(Malformed(line: index + 1, why: "range [\(offset), \(offset) + \(length)) overflows"))
            }
            failures.append(DaxInjectedFailure(range: offset..<end, kind: kind))
        }
        return .success(failures)
    }

    private func malformed(_ operation: String, _ line: Int, _ why: String) -> DaxError {
        DaxError(.invalidArgument, operation: operation, path: path,
                 message: "the injection sidecar of \(devicePath) is malformed at line \(line): \(why); fix it, or clear every injected failure (daxmap inject PATH --clear) to remove it")
    }

    /// Reads, changes and writes the sidecar under an exclusive `flock` of the
    /// device file (other injecting processes wait); returns what it wrote.
    func update(operation: String, _ change: (inout InjectedRanges) throws(DaxError) -> Void) throws(DaxError) -> InjectedRanges {
        let lock: CInt
        switch Syscalls.open(devicePath, O_RDONLY | O_NONBLOCK) {
        case .success(let f): lock = f
        case .failure(let errno): throw DaxDevice.openFailure(devicePath, errno, operation: operation)
        }
        defer { Syscalls.close(lock) }
        if case .failure(let errno) = Syscalls.flock(lock, LOCK_EX) {
            throw DaxError(.system, operation: "flock", path: devicePath, errno: errno,
                           message: "cannot lock the device to update its injected failures")
        }
        var ranges = try load(operation: operation)
        try change(&ranges)
        try store(ranges, operation: operation)
        return ranges
    }

    /// Removes the sidecar, whatever it holds (even malformed, a symbolic link:
    /// the link itself, never what it points at).
    func remove(operation: String) throws(DaxError) {
        let dir = try openFolder(operation)
        defer { Syscalls.close(dir) }
        if case .failure(let errno) = Syscalls.unlink(at: dir, name), errno != .noSuchFileOrDirectory {
            throw writeError(operation, errno, "cannot remove")
        }
    }

    /// The sidecar's folder, opened once: every name below is resolved in it.
    private func openFolder(_ operation: String) throws(DaxError) -> CInt {
        switch Syscalls.open(folder, O_RDONLY | O_DIRECTORY) {
        case .success(let fd): return fd
        case .failure(let errno): throw writeError(operation, errno, "cannot open the folder of")
        }
    }

    /// A new, empty temporary file in `dir` that nobody can have named first:
    /// 128 random bits in its name, and `O_EXCL|O_NOFOLLOW`, so a name that
    /// exists (planted: a file, a symbolic link) is never opened.
    private func createTemporary(in dir: CInt, _ operation: String) throws(DaxError) -> (CInt, String) {
        for _ in 0..<8 {
            // SystemRandomNumberGenerator: the kernel's getrandom(2), not guessable from a pid or a clock.
            var random = SystemRandomNumberGenerator()
            let hex = (0..<2).map { _ in String(random.next() as UInt64, radix: 16) }.joined(separator: "-")
            let temporary = "\(name).tmp.\(hex)"
            switch Syscalls.open(at: dir, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644) {
            case .success(let fd): return (fd, temporary)
            case .failure(.fileExists): continue // 2^-96 by chance: someone is guessing; take another
            case .failure(let errno): throw writeError(operation, errno, "cannot create")
            }
        }
        throw DaxError(.system, operation: operation, path: path, errno: .fileExists,
                       message: "cannot create a temporary file for the injection sidecar of \(devicePath): eight random names all existed")
    }

    private func store(_ ranges: InjectedRanges, operation: String) throws(DaxError) {
        if ranges.failures.isEmpty { return try remove(operation: operation) }
        var text = "# daxmap injected failures of \(devicePath): KIND OFFSET LENGTH (device offsets, bytes)\n"
        // upperBound - lowerBound: a range read from a sidecar may be longer than Int.max (Range.count traps).
        for f in ranges.failures { text += "\(f.kind) \(f.range.lowerBound) \(f.range.upperBound - f.range.lowerBound)\n" }
        let dir = try openFolder(operation)
        defer { Syscalls.close(dir) }
        let (fd, temporary) = try createTemporary(in: dir, operation)
        var failure: Errno?
        let written = text.withUTF8 { Syscalls.writeAll(fd, UnsafeRawBufferPointer($0)) }.flatMap { Syscalls.fsync(fd) }
        if case .failure(let e) = written { failure = e }
        Syscalls.close(fd)
        if failure == nil, case .failure(let e) = Syscalls.rename(at: dir, temporary, to: name) { failure = e }
        if let failure {
            // Tidying only: the error reported is the write's; the name is ours (created O_EXCL).
            _ = Syscalls.unlink(at: dir, temporary)
            throw writeError(operation, failure, "cannot write")
        }
    }

    private func writeError(_ operation: String, _ errno: Errno, _ what: String) -> DaxError {
        let denied = errno == .permissionDenied || errno == .notPermitted || errno == .readOnlyFileSystem
        return DaxError(denied ? .permissionDenied : .system, operation: operation, path: path, errno: errno,
                        message: "\(what) the injection sidecar next to \(devicePath)"
                            + (denied ? ": its folder is not writable (injected failures persist in a file beside the device)" : ""))
    }
}
