import DaxMap
import Glibc

/// A fresh directory under /tmp, removed by `remove()`.
struct TemporaryDirectory {
    let path: String
    init() {
        var template = Array("/tmp/daxlog-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(p != nil, "mkdtemp failed")
        path = String(cString: p!)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func remove() { _ = system("rm -rf '\(path)'") }
}

/// The deterministic payload of a sequence number (the probe's too).
func payload(_ sequence: UInt64) -> [UInt8] {
    let n = 1 + Int(sequence &* 37 % 300)
    return (0..<n).map { UInt8(truncatingIfNeeded: sequence &* 31 &+ UInt64($0)) }
}

/// The directory holding the test bundle, where SwiftPM also puts the executables.
var buildDirectory: String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let exe = String(cString: Array(buffer[0..<max(n, 0)]) + [0])
    return String(exe[..<(exe.lastIndex(of: "/") ?? exe.endIndex)])
}

/// Runs a shell command line; returns its status (or 128+signal), stdout, stderr.
func runShell(_ command: String) -> (status: Int32, stdout: String, stderr: String) {
    let dir = TemporaryDirectory()
    defer { dir.remove() }
    let status = system("\(command) >\(dir.file("out")) 2>\(dir.file("err")) </dev/null")
    let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (code, readFile(dir.file("out")), readFile(dir.file("err")))
}

func quoted(_ s: String) -> String { "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'" }

func readFile(_ path: String) -> String {
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

/// Polls `condition` until it holds or `seconds` pass.
@discardableResult
func waitUntil(seconds: Double, _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let end = clock.now + .milliseconds(Int(seconds * 1000))
    while !condition() {
        guard clock.now < end else { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
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
