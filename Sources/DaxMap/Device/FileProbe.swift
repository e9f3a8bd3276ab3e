internal import CDaxMap
import Glibc
import SystemPackage

/// Probes a regular file: does its file system serve it with DAX?
enum FileProbe {
    /// `STATX_ATTR_DAX` (Linux 5.8) says whether the inode is accessed with DAX.
    static func isDax(_ fd: CInt) -> Bool { cdaxmap_file_is_dax(fd) == 1 }

    /// Tries one page with `MAP_SHARED_VALIDATE | MAP_SYNC`; the error says why not.
    static func mapSync(_ fd: CInt, readOnly: Bool) -> Result<Void, Errno> {
        let page = Syscalls.pageSize
        let prot = readOnly ? PROT_READ : PROT_READ | PROT_WRITE
        switch Syscalls.mmap(nil, page, prot, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0) {
        case .success(let p):
            Syscalls.munmap(p, page)
            return .success(())
        case .failure(let e):
            return .failure(e)
        }
    }
}
