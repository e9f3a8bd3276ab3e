import Glibc
import SystemPackage

// The calls the `daxmap` command needs beyond the library's (issue 26: the CLI
// goes through this layer too, and Tests/lint/libc-calls.sh checks it).
extension Syscalls {
    /// The error type of every call here, for code that does not import SystemPackage.
    package typealias Failure = Errno

    /// mkdtemp(3): a new directory, mode 0700, from `prefix` + six random characters.
    package static func makeTemporaryDirectory(prefix: String) -> Result<String, Errno> {
        var template = Array((prefix + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { Glibc.mkdtemp($0.baseAddress!) != nil }
        guard made else { return .failure(lastError) }
        return .success(template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }

    /// truncate(2) by name (the demo's own emulated device, which it shrinks on purpose).
    package static func truncate(_ path: String, _ size: Int) -> Result<Void, Errno> {
        retryingOnInterrupt { Glibc.truncate(path, off_t(size)) }.map { _ in () }
    }
}
