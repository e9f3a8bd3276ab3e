// What both test targets need from the machine: a scratch folder, bounded waits,
// child processes with their output. Not part of any product.
import Glibc

/// A fresh directory under /tmp, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String
    public init() {
        var template = Array("/tmp/daxmap-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(p != nil, "mkdtemp failed")
        path = String(cString: p!)
    }
    public func file(_ name: String) -> String { path + "/" + name }
    public func remove() { _ = system("rm -rf " + quoted(path)) }
}

/// Polls `condition` until it holds or `seconds` pass; returns whether it held.
/// Tests wait on state this way, bounded, never on a fixed sleep.
@discardableResult
public func waitUntil(seconds: Double, _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let end = clock.now + .milliseconds(Int(seconds * 1000))
    while !condition() {
        guard clock.now < end else { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}

/// The directory holding the test bundle, where SwiftPM also puts the executables.
public var buildDirectory: String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let exe = String(cString: Array(buffer[0..<max(n, 0)]) + [0])
    return String(exe[..<(exe.lastIndex(of: "/") ?? exe.endIndex)])
}

/// `s` quoted for a POSIX shell.
public func quoted(_ s: String) -> String {
    "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
}

/// Runs a shell command line, no standard input; returns its exit status (or
/// 128+signal), standard output and standard error.
public func runShell(_ command: String) -> (status: Int32, stdout: String, stderr: String) {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let status = system("\(command) >\(quoted(dir.file("out"))) 2>\(quoted(dir.file("err"))) </dev/null")
    let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (code, readFile(dir.file("out")), readFile(dir.file("err")))
}

/// Runs a program with these arguments (each quoted), as ``runShell(_:)``.
public func runProgram(_ argv: [String]) -> (status: Int32, stdout: String, stderr: String) {
    runShell(argv.map(quoted).joined(separator: " "))
}

/// A whole file as text ("" when it cannot be opened).
public func readFile(_ path: String) -> String {
    guard let f = fopen(path, "r") else { return "" }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        bytes += buf[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}
