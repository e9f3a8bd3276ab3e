import Glibc
import Testing

/// Issue 26, round three of a careless operator and a hostile local user
/// against the CLI: no hang, no silent pass, no file of theirs touched. The
/// bad inputs are rows of CLIBadInputTests; these need a run first.
@Suite struct CLIHostileTests {
    private var cli: String { buildDirectory + "/daxmap" }

    /// `hold --acked X` removed a user's `X.tmp`; its temporaries now have
    /// unguessable names created O_EXCL, and leave nothing behind.
    @Test func holdNeverRemovesOrReplacesAUsersFile() {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = dir.file("dev"), acked = dir.file("acked")
        #expect(runProgram(["truncate", "-s", "4M", device]).status == 0)
        writeFile(acked + ".tmp", "mine\n")
        // An all-holes file has nothing to lose: no --force needed.
        let first = runProgram([cli, "hold", device, "--holders", "1", "--acked", acked, "--timeout", "1"])
        #expect(first.status == 3, "\(first)")
        #expect(readFile(acked + ".tmp") == "mine\n", "the user's .tmp was changed or removed")
        #expect(readFile(acked).hasPrefix("daxmap-acked 2\n"))
        // Again on the same files: the device holds hold's log, the file is an acknowledgement file.
        let again = runProgram([cli, "hold", device, "--holders", "1", "--acked", acked, "--timeout", "1"])
        #expect(again.status == 3, "\(again)")
        #expect(runShell("ls -A \(quoted(dir.path))").stdout == "acked\nacked.tmp\ndev\n", "a temporary file was left behind")
        // One size parser: --create takes 4M as inject does.
        let created = runProgram([cli, "hold", dir.file("new"), "--create", "4M", "--holders", "1", "--acked", dir.file("acked2"), "--timeout", "1"])
        #expect(created.status == 3, "\(created)")
        var st = stat()
        #expect(stat(dir.file("new"), &st) == 0 && st.st_size == 4 << 20)
        #expect(runProgram([cli, "verify", "--acked", acked]).status == 0)
    }

    /// A user's data file is overwritten with --force only (the refusal is a row of the table).
    @Test func holdAndMapCheckOverwriteAUsersFileOnlyWithForce() {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.file("data")
        #expect(runProgram(["dd", "if=/dev/urandom", "of=" + file, "bs=1M", "count=4", "status=none"]).status == 0)
        let check = runProgram([cli, "map-check", file, "--force"])
        #expect(check.status == 0, "\(check)")
        #expect(runProgram(["dd", "if=/dev/urandom", "of=" + file, "bs=1M", "count=4", "status=none"]).status == 0)
        let hold = runProgram([cli, "hold", file, "--holders", "1", "--acked", dir.file("acked"), "--timeout", "1", "--force"])
        #expect(hold.status == 3, "\(hold)")
    }

    /// An acknowledgement line claiming a huge `through` made verify run for
    /// hours (5,000,000 records took 27.8 s). The work is now bounded by the
    /// records the log holds: a 512 MiB log claimed full answers at once.
    @Test func aHugeClaimIsAnsweredAtOnce() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = dir.file("dev"), acked = dir.file("acked")
        let hold = runProgram([cli, "hold", device, "--create", "512M", "--holders", "1", "--acked", acked, "--timeout", "1"])
        try #require(hold.status == 3, "\(hold)")
        var lines = readFile(acked).split(separator: "\n").map(String.init)
        var fields = lines[1].split(separator: " ").map(String.init)
        let length = try #require(UInt64(fields[3]))
        // As many records as the file format lets a line claim: more than this log can hold, refused at once.
        fields[4] = String(length / 32)
        lines[1] = fields.joined(separator: " ")
        writeFile(acked, lines.joined(separator: "\n") + "\n")
        let refused = runProgram(["timeout", "30", cli, "verify", "--acked", acked])
        #expect(refused.status == 1 && refused.stderr.contains("the claim cannot be true"), "\(refused)")
        #expect(!refused.stdout.contains("recordsVerified"), "\(refused)")
        // A claim the log could hold but never numbered: 16 million records at the old pace
        // (90 s); answered from the records the log holds.
        let claim = (length - (1 << 20)) / 32
        fields[4] = String(claim)
        lines[1] = fields.joined(separator: " ")
        writeFile(acked, lines.joined(separator: "\n") + "\n")
        let verify = runProgram(["timeout", "30", cli, "verify", "--acked", acked])
        #expect(verify.status == 1, "\(verify)")
        #expect(verify.stdout.contains("\"firstLost\":") && verify.stdout.contains(": missing ("), "\(verify)")
        #expect(verify.stdout.contains("\"recordsAcknowledged\":\(claim)"), "\(verify)")
    }

    private func writeFile(_ path: String, _ text: String) {
        let f = fopen(path, "w")!
        fputs(text, f)
        fclose(f)
    }

    /// `crash-test PATH` while another user loops `rename PATH; symlink PATH -> victim`
    /// resized the victim: the device is now used only through the descriptor it was created as.
    @Test func crashTestNeverFollowsAPathSwappedForASymlink() {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev"), victim = dir.file("victim")
        #expect(runShell("head -c 12813 /dev/urandom > \(quoted(victim))").status == 0)
        let before = runProgram(["sha256sum", victim]).stdout
        let script = """
            \(quoted(cli)) crash-test \(quoted(path)) --cycles 300 --seed 5 > \(quoted(dir.file("out"))) 2>&1 & pid=$!
            while [ ! -f \(quoted(path)) ] && kill -0 $pid 2>/dev/null; do sleep 0.01; done
            ( while kill -0 $pid 2>/dev/null; do mv -f \(quoted(path)) \(quoted(path + ".moved")) 2>/dev/null; ln -s victim \(quoted(path)) 2>/dev/null; done ) &
            loop=$!
            wait $pid; rc=$?; wait $loop; echo "rc=$rc"
            """
        let r = runShell(script)
        #expect(r.stdout.contains("rc=0"), "\(r) \(readFile(dir.file("out")))")
        #expect(runProgram(["sha256sum", victim]).stdout == before, "the victim was changed: \(runShell("ls -l \(quoted(dir.path))").stdout)")
    }

    /// `info` on a file the user may read but not write said "permission denied".
    @Test func infoShowsAReadOnlyFile() {
        guard geteuid() == 0, access("/usr/bin/setpriv", X_OK) == 0 else {
            // Needs another user to be denied the write (root never is): nothing to check here.
            return
        }
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.file("ro")
        #expect(runProgram(["truncate", "-s", "1M", file]).status == 0)
        chmod(dir.path, 0o755)
        chmod(file, 0o444)
        let r = runProgram(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", cli, "info", file])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("emulated") && r.stdout.contains("1048576 bytes"), "\(r)")
        #expect(!r.stderr.contains("permission denied"), "\(r)")
    }
}
