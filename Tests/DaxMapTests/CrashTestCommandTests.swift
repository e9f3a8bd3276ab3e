import Glibc
import Testing

/// `daxmap crash-test`: 0 lost with the real log, losses with a writer broken on
/// purpose, and the user's files left alone.
@Suite struct CrashTestCommandTests {
    private var cli: String { buildDirectory + "/daxmap" }

    /// The number after `"key": ` on a line of pretty-printed JSON.
    static func number(_ key: String, in json: String) -> Int? {
        let prefix = "\"\(key)\": "
        for line in json.split(separator: "\n") {
            let text = line.drop { $0 == " " }
            if text.hasPrefix(prefix) { return Int(text.dropFirst(prefix.count).prefix { $0.isNumber }) }
        }
        return nil
    }

    @Test func theRealLogLosesNothingAndABrokenWriterIsCaught() {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let good = runProgram([cli, "crash-test", dir.path, "--cycles", "200", "--evict", "--seed", "3", "--json"])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(Self.number("cycles", in: good.stdout) == 200 && Self.number("seed", in: good.stdout) == 3)
        #expect(Self.number("recordsLost", in: good.stdout) == 0 && Self.number("recordsCorrupt", in: good.stdout) == 0, "\(good.stdout)")
        #expect((Self.number("recordsAcknowledged", in: good.stdout) ?? 0) > 1000, "\(good.stdout)")
        #expect((Self.number("tornTails", in: good.stdout) ?? 0) > 0, "\(good.stdout)")

        let broken = runProgram([cli, "crash-test", dir.path, "--cycles", "200", "--seed", "3", "--skip-persist-every", "4"])
        #expect(broken.status == 2, "\(broken.stdout) \(broken.stderr)")
        #expect(broken.stdout.contains("FAIL:") && broken.stdout.contains("replay with --seed 3"), "\(broken.stdout)")
        #expect(!broken.stdout.contains("lost 0,"), "\(broken.stdout)")
        // The scratch devices went with their runs.
        #expect(runShell("ls -A \(quoted(dir.path))").stdout.isEmpty)
    }

    @Test func aTerminatedRunRemovesItsScratchDevice() {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let r = runShell("timeout --preserve-status -s TERM 2 \(quoted(cli)) crash-test \(quoted(dir.path)) --cycles 100000000")
        #expect(r.status == 143 && r.stderr.contains("interrupted by signal 15; scratch device removed"), "\(r.status) \(r.stderr)")
        #expect(runShell("ls -A \(quoted(dir.path))").stdout.isEmpty)
    }

    @Test func theSameSeedPrintsTheSameRun() {
        let a = runProgram([cli, "crash-test", "--cycles", "30", "--seed", "77", "--evict", "--json"])
        let b = runProgram([cli, "crash-test", "--cycles", "30", "--seed", "77", "--evict", "--json"])
        #expect(a.status == 0 && b.status == 0)
        let strip = { (s: String) in s.split(separator: "\n").filter { !$0.contains("\"device\"") } }
        #expect(strip(a.stdout) == strip(b.stdout) && !a.stdout.isEmpty)
    }

    @Test func anExistingFileIsNeverTakenAndBadOptionsAreUsageErrors() {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let mine = dir.file("my notes.txt")
        let f = fopen(mine, "w")
        fputs("keep me", f)
        fclose(f)
        let refused = runProgram([cli, "crash-test", mine, "--cycles", "1"])
        #expect(refused.status == 1 && refused.stderr.contains("never takes an existing file"), "\(refused.stderr)")
        #expect(readFile(mine) == "keep me")

        let created = dir.file("new dev.img")
        let kept = runProgram([cli, "crash-test", created, "--cycles", "2"])
        #expect(kept.status == 0 && kept.stdout.contains("kept at \(created)"), "\(kept.stdout) \(kept.stderr)")
        let missing = runProgram([cli, "crash-test", dir.file("no/such/dir/dev"), "--cycles", "1"])
        #expect(missing.status == 1 && missing.stderr.contains("does not exist"), "\(missing.stderr)")

        for bad in [["--cycles", "0"], ["--writers", "256"], ["--operations", "9223372036854775807"], ["--operations", "-1"], ["--size", "1"], ["--size", "12Q"], ["--granularity", "byte"],
                    ["--evict", "--eviction-probability", "2"], ["--skip-persist-every", "0"], ["--seed", "x"]] {
            let r = runProgram([cli, "crash-test"] + bad)
            #expect(r.status == 64 && r.stderr.contains("Error:"), "\(bad): \(r.status) \(r.stderr)")
        }
    }
}
