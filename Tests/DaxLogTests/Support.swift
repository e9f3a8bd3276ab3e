import DaxMap
import Glibc
@_exported import DaxMapTestKit

/// The deterministic payload of a sequence number (the probe's too).
func payload(_ sequence: UInt64) -> [UInt8] {
    let n = 1 + Int(sequence &* 37 % 300)
    return (0..<n).map { UInt8(truncatingIfNeeded: sequence &* 31 &+ UInt64($0)) }
}

/// Overwrites bytes of a file at `offset` (as the media corrupting them would).
func patch(_ path: String, at offset: Int, _ bytes: [UInt8]) {
    let fd = open(path, O_RDWR)
    precondition(fd >= 0)
    precondition(pwrite(fd, bytes, bytes.count, off_t(offset)) == bytes.count)
    close(fd)
}

func readBytes(_ path: String, at offset: Int, count: Int) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    precondition(fd >= 0)
    defer { close(fd) }
    var b = [UInt8](repeating: 0, count: count)
    _ = pread(fd, &b, count, off_t(offset))
    return b
}
