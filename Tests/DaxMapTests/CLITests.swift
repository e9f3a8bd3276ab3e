import Glibc
import Testing

/// The `daxmap` executable, as a user runs it.
@Suite struct CLITests {
    private var cli: String { buildDirectory + "/daxmap" }

    @Test func demoSurvivesRealFaultsAndARemovalWithNoRecordLost() throws {
        let result = runProgram([cli, "demo", "--json", "--holders", "3"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let out = result.stdout
        #expect(out.contains("\"holders\": 3"))
        #expect(out.contains("\"holdersNotified\": 3"))
        #expect(out.contains("\"recordsLost\": 0"))
        #expect(out.contains("\"exitedGracefully\": true"))
        #expect(out.contains("\"mappingsRevoked\": 1")) // the stubborn holder
        #expect(out.contains("\"revokedAccessThrew\": true"))
        #expect(out.contains("\"mapAfterRemoval\": \"deviceRemoved\""))
        #expect(!out.contains("\"faultSignals\": 0"), "the truncation must raise real SIGBUS: \(out)")
        #expect(!out.contains("\"recordsAcknowledged\": 0"))
    }

    @Test func demoTimelineIsReadable() throws {
        let result = runProgram([cli, "demo", "--holders", "2"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("truncated the backing file"))
        #expect(result.stdout.contains("removal completed"))
        #expect(result.stdout.contains("0 lost; process alive"))
    }

    @Test(arguments: [
        (["info", "/nonexistent"], "no such file"),
        (["info", "/tmp"], "is a directory"),
        (["info", "/dev/null"], "not device-dax"),
        (["info", "/dev/zero"], "not device-dax"),
    ])
    func badInputExitsNonZeroWithTheReason(args: [String], reason: String) {
        let result = runProgram([cli] + args)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("daxmap: "), "stderr: \(result.stderr)")
        #expect(result.stderr.contains(reason), "stderr: \(result.stderr)")
        #expect(result.stderr.contains(args[1]))
    }

    @Test func demoRejectsNonsenseOptions() {
        let result = runProgram([cli, "demo", "--holders", "0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--holders"))
    }
}
