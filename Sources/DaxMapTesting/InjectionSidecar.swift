import DaxMap
import Glibc
import SystemPackage

/// The file next to an emulated device that persists its injected failures,
/// so they survive close and reopen and meet the next process that maps the
/// device, as real poison does: `<device>.daxmap-injected`, one
/// `KIND OFFSET LENGTH` line per failure (`media` or `removed`, decimal device
/// offsets), `#` comments. Replaced atomically (a temporary file, `fsync`,
/// `rename`); writers serialise on `flock` of the device file; no sidecar
/// means no injected failure.
struct InjectionSidecar: Sendable {
    static let suffix = ".daxmap-injected"

    /// The device as given, and the sidecar next to the file it resolves to.
    let devicePath: String
    let path: String

    init(devicePath: String) {
        self.devicePath = devicePath
        self.path = (DaxMapSystem.realpath(devicePath) ?? devicePath) + Self.suffix
    }

    /// What the sidecar records; empty when there is none.
    /// - Throws: `.invalidArgument` naming the line of a malformed sidecar,
    ///   `.permissionDenied`, `.system`.
    func load(operation: String) throws(DaxError) -> InjectedRanges {
        let fd: CInt
        switch DaxMapSystem.open(path, O_RDONLY) {
        case .success(let f): fd = f
        case .failure(.noSuchFileOrDirectory): return InjectedRanges()
        case .failure(let errno):
            throw DaxError(errno == .permissionDenied ? .permissionDenied : .system, operation: operation, path: path,
                           errno: errno, message: "cannot read the injection sidecar of \(devicePath)")
        }
        DaxMapSystem.close(fd)
        guard let text = DaxMapSystem.readText(path, limit: 16 << 20) else {
            throw DaxError(.system, operation: operation, path: path, message: "cannot read the injection sidecar of \(devicePath)")
        }
        var failures: [DaxInjectedFailure] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.isEmpty { continue }
            guard fields.count == 3, let kind = DaxInjectedFailure.Kind(rawValue: String(fields[0])),
                  let offset = UInt64(fields[1]), let length = UInt64(fields[2]), length > 0 else {
                throw malformed(operation, index + 1, "expected 'media|removed OFFSET LENGTH', found '\(line)'")
            }
            let (end, overflow) = offset.addingReportingOverflow(length)
            guard !overflow else { throw malformed(operation, index + 1, "range [\(offset), \(offset) + \(length)) overflows") }
            failures.append(DaxInjectedFailure(range: offset..<end, kind: kind))
        }
        return InjectedRanges(failures)
    }

    private func malformed(_ operation: String, _ line: Int, _ why: String) -> DaxError {
        DaxError(.invalidArgument, operation: operation, path: path,
                 message: "the injection sidecar of \(devicePath) is malformed at line \(line): \(why); fix it, or clear every injected failure (daxmap inject PATH --clear) to remove it")
    }

    /// Reads, changes and writes the sidecar under an exclusive `flock` of the
    /// device file (other injecting processes wait); returns what it wrote.
    func update(operation: String, _ change: (inout InjectedRanges) throws(DaxError) -> Void) throws(DaxError) -> InjectedRanges {
        let lock: CInt
        switch DaxMapSystem.open(devicePath, O_RDONLY) {
        case .success(let f): lock = f
        case .failure(let errno): throw DaxDevice.openFailure(devicePath, errno, operation: operation)
        }
        defer { DaxMapSystem.close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            let errno = Errno(rawValue: Glibc.errno)
            guard errno == .interrupted else {
                throw DaxError(.system, operation: "flock", path: devicePath, errno: errno,
                               message: "cannot lock the device to update its injected failures")
            }
        }
        var ranges = try load(operation: operation)
        try change(&ranges)
        try store(ranges, operation: operation)
        return ranges
    }

    /// Removes the sidecar, whatever it holds (even malformed).
    func remove(operation: String) throws(DaxError) {
        if unlink(path) != 0 {
            let errno = Errno(rawValue: Glibc.errno)
            guard errno != .noSuchFileOrDirectory else { return }
            throw writeError(operation, errno, "cannot remove")
        }
    }

    private func store(_ ranges: InjectedRanges, operation: String) throws(DaxError) {
        if ranges.failures.isEmpty { return try remove(operation: operation) }
        var text = "# daxmap injected failures of \(devicePath): KIND OFFSET LENGTH (device offsets, bytes)\n"
        for f in ranges.failures { text += "\(f.kind) \(f.range.lowerBound) \(f.range.count)\n" }
        let temporary = path + ".tmp.\(getpid())"
        let fd: CInt
        switch DaxMapSystem.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644) {
        case .success(let f): fd = f
        case .failure(let errno): throw writeError(operation, errno, "cannot create")
        }
        var failure: Errno?
        text.withUTF8 { bytes in
            var done = 0
            while done < bytes.count {
                switch DaxMapSystem.retrying({ write(fd, bytes.baseAddress! + done, bytes.count - done) }) {
                case .success(let n): done += n
                case .failure(let e):
                    failure = e
                    return
                }
            }
            if fsync(fd) != 0 { failure = Errno(rawValue: Glibc.errno) }
        }
        DaxMapSystem.close(fd)
        if failure == nil && rename(temporary, path) != 0 { failure = Errno(rawValue: Glibc.errno) }
        if let failure {
            unlink(temporary)
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
