import Glibc

/// Every process of the host that maps or has open a ``RetireTarget``, from
/// `/proc/*/maps` and `/proc/*/fd`. Processes that vanish during the scan are
/// skipped; those whose files cannot be read (another uid, without
/// privilege) are counted and listed, never guessed at.
struct HolderScan: Sendable {
    /// One holding process.
    struct Found: Sendable, Hashable {
        var pid: Int32
        var command: String
        /// Address ranges that map the target, merged where adjacent.
        var ranges: [Range<UInt64>]
        var descriptors: Int
        var bytesMapped: UInt64 { ranges.reduce(0) { $0 + UInt64($1.count) } }
    }

    var found: [Found] = []
    /// Processes whose maps or descriptors could not be read.
    var unreadable: [Int32] = []

    /// Scans every process but `excluding`.
    static func scan(_ target: RetireTarget, excluding: Int32 = Syscalls.processID()) -> HolderScan {
        var scan = HolderScan()
        let needles = target.mapsNeedles
        for pid in processes() where pid != excluding {
            switch holding(pid, target, needles) {
            case .holds(let found): scan.found.append(found)
            case .unreadable: scan.unreadable.append(pid)
            case .none, .vanished: break
            }
        }
        return scan
    }

    /// Looks at `pids` only (a retire watching the processes its first scan found).
    static func scan(_ target: RetireTarget, pids: some Sequence<Int32>) -> HolderScan {
        var scan = HolderScan()
        let needles = target.mapsNeedles
        for pid in pids {
            switch holding(pid, target, needles) {
            case .holds(let found): scan.found.append(found)
            case .unreadable: scan.unreadable.append(pid)
            case .none, .vanished: break
            }
        }
        return scan
    }

    /// Every pid listed in /proc.
    static func processes() -> [Int32] {
        guard case .success(let names) = Syscalls.directoryEntries("/proc") else { return [] }
        return names.compactMap { Int32($0) }.sorted()
    }

    /// `/proc/PID/comm`, without its newline.
    static func command(of pid: Int32) -> String? {
        Syscalls.readText("/proc/\(pid)/comm", limit: 64).map { String($0.prefix { $0 != "\n" }) }
    }

    private enum Holding { case holds(Found), none, vanished, unreadable }

    private static func holding(_ pid: Int32, _ target: RetireTarget, _ needles: [String]) -> Holding {
        let maps: String
        switch Syscalls.open("/proc/\(pid)/maps", O_RDONLY) {
        case .success(let fd):
            // Read on the descriptor opened once (a scan of a thousand processes opened each twice).
            defer { Syscalls.close(fd) }
            guard let text = readAll(fd, limit: 64 << 20) else { return .vanished }
            maps = text
        case .failure(let errno):
            return errno == .noSuchFileOrDirectory || errno == .noSuchProcess ? .vanished : .unreadable
        }
        var ranges: [Range<UInt64>] = []
        let mentioned = needles.contains { maps.contains($0) }
        for line in mentioned ? maps.split(separator: "\n") : [] {
            guard needles.contains(where: { line.contains($0) }), let range = mappedRange(line, target) else { continue }
            if let last = ranges.last, last.upperBound == range.lowerBound {
                ranges[ranges.count - 1] = last.lowerBound..<range.upperBound
            } else {
                ranges.append(range)
            }
        }
        let fds: [String]
        switch Syscalls.directoryEntries("/proc/\(pid)/fd") {
        case .success(let names): fds = names
        case .failure(let e):
            if e == .noSuchFileOrDirectory || e == .noSuchProcess { return .vanished }
            // Maps readable and empty: no address space (a kernel thread, or a process
            // past its exit), which holds nothing; its descriptors are root's to list.
            return maps.isEmpty ? .none : .unreadable
        }
        var descriptors = 0
        for fd in fds {
            guard Int(fd) != nil, case .success(let st) = Syscalls.status(ofPath: "/proc/\(pid)/fd/\(fd)") else { continue }
            if target.matchesOpenFile(st) { descriptors += 1 }
        }
        guard !ranges.isEmpty || descriptors > 0 else { return .none }
        return .holds(Found(pid: pid, command: command(of: pid) ?? "?", ranges: ranges, descriptors: descriptors))
    }

    /// Everything `fd` reads, up to `limit` bytes; nil on an error (the process went).
    private static func readAll(_ fd: CInt, limit: Int) -> String? {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while bytes.count < limit {
            guard case .success(let count) = buffer.withUnsafeMutableBytes({ Syscalls.read(fd, into: $0) }) else { return nil }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The address range of a maps line (`start-end perms offset MAJ:MIN inode path`) when it maps the target.
    static func mappedRange(_ line: Substring, _ target: RetireTarget) -> Range<UInt64>? {
        guard let line = MapsLine(line), line.inode != 0 || target.kind != .file, !line.isAnonymous,
              target.matchesMapping(major: line.major, minor: line.minor, inode: line.inode, path: line.path) else { return nil }
        return line.range
    }
}
