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
        self.path = (Syscalls.realpath(devicePath) ?? devicePath) + Self.suffix
    }

    /// What the sidecar records; empty when there is none.
    /// - Throws: `.invalidArgument` naming the line of a malformed sidecar,
    ///   `.permissionDenied`, `.system`.
    func load(operation: String) throws(DaxError) -> InjectedRanges {
        let fd: CInt
        switch Syscalls.open(path, O_RDONLY) {
        case .success(let f): fd = f
        case .failure(.noSuchFileOrDirectory): return InjectedRanges()
        case .failure(let errno):
            throw DaxError(errno == .permissionDenied ? .permissionDenied : .system, operation: operation, path: path,
                           errno: errno, message: "cannot read the injection sidecar of \(devicePath)")
        }
        Syscalls.close(fd)
        guard let text = Syscalls.readText(path, limit: 16 << 20) else {
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
        switch Syscalls.open(devicePath, O_RDONLY) {
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

    /// Removes the sidecar, whatever it holds (even malformed).
    func remove(operation: String) throws(DaxError) {
        if case .failure(let errno) = Syscalls.unlink(path), errno != .noSuchFileOrDirectory {
            throw writeError(operation, errno, "cannot remove")
        }
    }

    private func store(_ ranges: InjectedRanges, operation: String) throws(DaxError) {
        if ranges.failures.isEmpty { return try remove(operation: operation) }
        var text = "# daxmap injected failures of \(devicePath): KIND OFFSET LENGTH (device offsets, bytes)\n"
        for f in ranges.failures { text += "\(f.kind) \(f.range.lowerBound) \(f.range.count)\n" }
        let temporary = path + ".tmp.\(Syscalls.processID())"
        let fd: CInt
        switch Syscalls.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644) {
        case .success(let f): fd = f
        case .failure(let errno): throw writeError(operation, errno, "cannot create")
        }
        var failure: Errno?
        let written = text.withUTF8 { Syscalls.writeAll(fd, UnsafeRawBufferPointer($0)) }.flatMap { Syscalls.fsync(fd) }
        if case .failure(let e) = written { failure = e }
        Syscalls.close(fd)
        if failure == nil, case .failure(let e) = Syscalls.rename(temporary, to: path) { failure = e }
        if let failure {
            // Tidying only: the error reported is the write's, and a leftover
            // temporary is never read (its name has the pid in it).
            _ = Syscalls.unlink(temporary)
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
