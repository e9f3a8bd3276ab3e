import Glibc
import Testing

/// `Examples/Journal/main.swift` (the `daxmap-example` executable) is the README's
/// "Using the library" block: it is compiled with the package, run here, and compared
/// with the README so the two cannot drift apart.
@Suite struct ExampleTests {
    /// The package root, from this file's path (Tests/DaxMapTests/ExampleTests.swift).
    static let packageRoot: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    @Test func theExampleRunsOnAnEmulatedDevice() {
        let result = runProgram([buildDirectory + "/daxmap-example"])
        #expect(result.status == 0, "stdout: \(result.stdout) stderr: \(result.stderr)")
        let out = result.stdout
        #expect(out.contains("(emulated, 4194304 bytes"), "\(out)")
        #expect(out.contains("read back: hello, persistent memory\n"), "\(out)")
        #expect(out.contains("journal: told preRemove for [0, 4194304)"), "\(out)")
        #expect(out.contains("removal: 1 holder(s) notified, 1 released, 0 revoked"), "\(out)")
        #expect(out.contains("event: removal of /tmp/daxmap-example-"), "\(out)")
        #expect(out.contains("event: removal completed"), "\(out)")
        #expect(out.hasSuffix("after removal: closed\n"), "\(out)")
        // The emulated device's file is gone afterwards.
        if let line = out.split(separator: "\n").first, line.hasPrefix("opened ") {
            let path = String(line.dropFirst("opened ".count).prefix { $0 != " " })
            #expect(access(path, F_OK) != 0, "\(path) left behind")
        }
    }

    @Test func aMissingDeviceIsATypedErrorAndExitStatusOne() {
        let result = runProgram([buildDirectory + "/daxmap-example", "/nonexistent/dax"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("not something daxmap maps: open: /nonexistent/dax"), "\(result.stdout)")
    }

    @Test func theReadmeBlockIsTheExampleSource() throws {
        let source = readFile(Self.packageRoot + "/Examples/Journal/main.swift")
        let readme = readFile(Self.packageRoot + "/README.md")
        try #require(!source.isEmpty && !readme.isEmpty, "cannot read the sources under \(Self.packageRoot)")
        // No Foundation here: find the block line by line.
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false)
        let section = try #require(lines.firstIndex(of: "## Using the library"), "README has no 'Using the library' section")
        let open = try #require(lines[section...].firstIndex(of: "```swift"), "no ```swift block after 'Using the library'")
        let close = try #require(lines[(open + 1)...].firstIndex(of: "```"), "unterminated ```swift block")
        let block = lines[(open + 1)..<close].joined(separator: "\n") + "\n"
        #expect(block == source, "README.md's 'Using the library' block differs from Examples/Journal/main.swift: copy the file into the block")
    }
}
