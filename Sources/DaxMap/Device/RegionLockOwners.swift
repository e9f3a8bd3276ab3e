import SystemPackage

/// Who holds an OFD lock on a range: F_OFD_GETLK says -1 for the pid, so the
/// lock lines of `/proc/*/fdinfo/*` (`lock: 1: OFDLCK ADVISORY WRITE -1
/// MAJ:MIN:INODE START END`) are searched, only when a claim was refused.
/// Processes whose descriptors cannot be read are counted, never guessed at.
enum RegionLockOwners {
    static func find(_ identity: FileIdentity, _ range: Range<UInt64>) -> DaxRegionClaim.Refusal {
        let me = Syscalls.processID()
        var unreadable = 0
        guard case .success(let names) = Syscalls.directoryEntries("/proc") else {
            return .inUse(owner: nil, detail: "another process holds a lock on the range; /proc cannot be read to name it")
        }
        for pid in names.compactMap(Int32.init) where pid != me {
            let fds: [String]
            switch Syscalls.directoryEntries("/proc/\(pid)/fdinfo") {
            case .success(let f): fds = f
            case .failure(let e):
                if e != .noSuchFileOrDirectory && e != .noSuchProcess { unreadable += 1 }
                continue
            }
            for fd in fds {
                guard let text = Syscalls.readText("/proc/\(pid)/fdinfo/\(fd)"),
                      text.split(separator: "\n").contains(where: { holds($0, identity, range) }) else { continue }
                let owner = DaxRegionOwner(pid: pid, command: HolderScan.command(of: pid) ?? "?", isThisProcess: false)
                return .inUse(owner: owner, detail: "\(owner) holds a lock on it (descriptor \(fd))")
            }
        }
        return .inUse(owner: nil, detail: unreadable > 0
            ? "another process holds a lock on the range; \(unreadable) processes' descriptors cannot be read by this user, so it cannot be named"
            : "another process held a lock on the range and was not found holding it (it may have just let go)")
    }

    /// Whether an fdinfo line is a lock on `range` of the file `identity`.
    static func holds(_ line: Substring, _ identity: FileIdentity, _ range: Range<UInt64>) -> Bool {
        guard line.hasPrefix("lock:") else { return false }
        let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        // lock: N: OFDLCK ADVISORY WRITE -1 MAJ:MIN:INODE START END
        guard f.count >= 9 else { return false }
        let id = f[6].split(separator: ":")
        guard id.count == 3, let major = UInt64(id[0], radix: 16), let minor = UInt64(id[1], radix: 16),
              let inode = UInt64(id[2]), let start = UInt64(f[7]) else { return false }
        let end = f[8] == "EOF" ? UInt64.max : UInt64(f[8]).map { $0 == .max ? $0 : $0 + 1 }
        guard let end, start < end else { return false }
        let dev = identity.device
        let devMajor = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff)
        let devMinor = (dev & 0xff) | ((dev >> 12) & ~0xff)
        return major == devMajor && minor == devMinor && inode == identity.inode && (start..<end).overlaps(range)
    }

}
