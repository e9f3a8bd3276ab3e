import Glibc
import Testing
@testable import DaxMap

/// `daxmap inject`: a failure injected by one process is met by the next one
/// that maps the device.
@Suite struct InjectCommandTests {
    private var cli: String { buildDirectory + "/daxmap" }
    private let page = UInt64(pageSize)

    @Test func aFailureInjectedByTheCLIMeetsThisProcessAndClearsAgain() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("my device") // spaces
        let device = try DaxDevice.createEmulated(at: path, size: 32 * page)
        let writer = try device.map()
        try writer.fill(0x77, at: 0, count: writer.count)
        writer.close()

        let injected = runProgram([cli, "inject", path, "--offset", "0x\(String(8 * page, radix: 16))", "--kind", "media", "--json"])
        #expect(injected.status == 0, "\(injected.stderr)")
        #expect(injected.stdout.contains("\"failures\":[{\"offset\":\(8 * page),\"length\":\(page),\"kind\":\"media\"}]"), "\(injected.stdout)")
        #expect(device.badblocks == [(8 * page)..<(9 * page)])
        let info = runProgram([cli, "info", path, "--json"])
        #expect(info.stdout.contains("\"badblock_count\": 1"), "\(info.stdout)")

        let holder = RecordingHolder("h")
        let mapping = try device.map(holder: holder)
        var bytes = [UInt8](repeating: 0, count: 8)
        let error = #expect(throws: DaxError.self) { try bytes.withUnsafeMutableBytes { try mapping.read(at: Int(8 * page), into: $0) } }
        #expect(error?.code == .mediaFailure)
        #expect(await holder.waitFor(.memoryFailureActionRequired)?.range == (8 * page)..<(9 * page))
        mapping.close()

        let cleared = runProgram([cli, "inject", path, "--clear"])
        #expect(cleared.status == 0, "\(cleared.stderr)")
        #expect(cleared.stdout.contains("cleared media [\(8 * page), \(9 * page))"), "\(cleared.stdout)")
        #expect(device.badblocks.isEmpty)
        let fresh = try device.map()
        try bytes.withUnsafeMutableBytes { try fresh.read(at: Int(8 * page), into: $0) }
        #expect(bytes == [UInt8](repeating: 0x77, count: 8))
    }

    // Bad inputs: rows of the one table in CLIBadInputTests (the device and its sidecar unchanged).

    @Test func notADeviceIsRefused() {
        for (path, reason) in [("/nonexistent/dev", "no such file"), ("/tmp", "is a directory"), ("/dev/null", "not device-dax")] {
            let result = runProgram([cli, "inject", path, "--offset", "0"])
            #expect(result.status == 1 && result.stderr.contains(reason), "\(path): \(result.stderr)")
        }
    }

    @Test func aReadOnlyFolderForTheSidecarIsAPermissionErrorNamingIt() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: 16 * page)
        // Root writes through mode bits: a read-only bind mount in a private mount namespace.
        let script = "mount --bind '\(dir.path)' '\(dir.path)' && mount -o remount,bind,ro '\(dir.path)' && exec '\(cli)' inject '\(path)' --offset 0"
        let probe = runProgram(["unshare", "-m", "true"])
        try #require(probe.status == 0, "unshare -m is not available: \(probe.stderr)")
        let result = runProgram(["unshare", "-m", "sh", "-c", script])
        #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("\(path).daxmap-injected"), "\(result.stderr)")
        #expect(result.stderr.contains("not writable") && result.stderr.contains("errno: 30"), "\(result.stderr)")
        #expect(access(path + ".daxmap-injected", F_OK) != 0)
    }
}
