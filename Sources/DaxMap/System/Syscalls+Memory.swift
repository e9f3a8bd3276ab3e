import Glibc
import SystemPackage

extension Syscalls {
    package static func mmap(
        _ addr: UnsafeMutableRawPointer?, _ length: Int, _ prot: CInt, _ flags: CInt, _ fd: CInt, _ offset: Int
    ) -> Result<UnsafeMutableRawPointer, Errno> {
        guard let p = Glibc.mmap(addr, length, prot, flags, fd, off_t(offset)), p != MAP_FAILED else {
            return .failure(lastError)
        }
        return .success(p)
    }

    /// munmap of our own mapping can only fail through a bug of ours.
    package static func munmap(_ addr: UnsafeMutableRawPointer, _ length: Int) {
        let r = Glibc.munmap(addr, length)
        precondition(r == 0, "munmap(\(addr), \(length)) failed: errno \(Glibc.errno)")
    }

    package static func msync(_ addr: UnsafeMutableRawPointer, _ length: Int, _ flags: CInt) -> Result<Void, Errno> {
        retryingOnInterrupt { Glibc.msync(addr, length, flags) }.map { _ in () }
    }

    package static func madvise(_ addr: UnsafeMutableRawPointer, _ length: Int, _ advice: CInt) -> Result<Void, Errno> {
        retryingOnInterrupt { Glibc.madvise(addr, length, advice) }.map { _ in () }
    }
}
