import DaxMap
import Glibc

/// One rule for every command that writes over a PATH it is given (`hold`,
/// `map-check`, like `demo --device`): an existing regular file holding data
/// that daxmap did not write is overwritten only with `--force`, and the
/// refusal says what would be overwritten. A file with no data (all holes, as
/// `truncate -s` makes it) has nothing to lose; a file that holds a daxmap log
/// where the command would put its first one was written by daxmap. A device
/// (`/dev/daxX.Y`) is not a user's file: it is given to daxmap to use.
enum OverwriteRule {
    /// "DAXLOG\u{1}\0", little-endian: the first bytes of a DaxLog's header.
    private static let logMagic: UInt64 = 0x0001_474F_4C58_4144
    /// lseek(2)'s SEEK_DATA (Linux 3.1), a macro Glibc's module does not import.
    private static let seekData: CInt = 3

    /// What daxmap leaves in a file it wrote, so a second run needs no --force.
    enum Mark {
        /// A DaxLog header (in either of its two slots, at 0 and 2048) where the
        /// first log would begin: the start of `part`, the bytes the command uses
        /// of a file of the given size (`hold --slot`: several share one file).
        case log(part: (UInt64) -> Range<UInt64>)
        /// `map-check`'s pattern: the first cache line of page N holds N (8 bytes,
        /// little-endian) and zeros; pages 1 to 3 are looked at.
        case mapCheckPattern
    }

    /// - Parameters:
    ///   - what: what the command would overwrite ("its contents").
    ///   - mark: what an earlier run of the command leaves, making the file daxmap's.
    static func check(_ path: String, command: String, force: Bool, what: String, mark: Mark) throws(DaxError) {
        guard !force else { return }
        // Missing or unreadable: the command's own open says why.
        guard case .success(let fd) = Syscalls.open(path, O_RDONLY | O_NONBLOCK) else { return }
        defer { Syscalls.close(fd) }
        guard case .success(let st) = Syscalls.status(of: fd), st.st_mode & S_IFMT == S_IFREG, st.st_size > 0 else { return }
        let size = UInt64(st.st_size)
        var part = 0..<size
        if case .log(let used) = mark { part = used(size) }
        // Only the bytes the command would write count (other slots may be in use).
        var firstData = part.lowerBound
        switch Syscalls.seek(fd, to: Int(clamping: part.lowerBound), seekData) {
        case .success(let at):
            if UInt64(at) >= part.upperBound { return }
            firstData = UInt64(at)
        case .failure(let errno) where errno.rawValue == ENXIO: return // holes only
        case .failure: break // a file system without SEEK_DATA: assume data
        }
        if carries(mark, fd, size: size) { return }
        let range = part == 0..<size ? "" : " in bytes [\(part.lowerBound), \(part.upperBound)) that it would use"
        throw DaxError(.invalidArgument, operation: command, path: path,
                       message: "exists and holds data daxmap did not write (\(st.st_size) bytes, data at offset \(firstData)\(range)): \(command) would overwrite \(what); pass --force to overwrite it, or give a new path")
    }

    private static func carries(_ mark: Mark, _ fd: CInt, size: UInt64) -> Bool {
        func word(at offset: UInt64) -> UInt64? {
            var value: UInt64 = 0
            let n = withUnsafeMutableBytes(of: &value) { Syscalls.read(fd, into: $0, at: Int(clamping: offset)) }
            guard case .success(8) = n else { return nil }
            return UInt64(littleEndian: value)
        }
        switch mark {
        case .log(let part):
            let base = part(size).lowerBound
            return [0, 2048].contains { word(at: base + $0) == logMagic }
        case .mapCheckPattern:
            let page = UInt64(Syscalls.pageSize)
            let pages = min(size / page, 4)
            guard pages >= 2 else { return false }
            return (1..<pages).allSatisfy { n in
                word(at: n * page) == n && (1..<8).allSatisfy { word(at: n * page + $0 * 8) == 0 }
            }
        }
    }
}
