import Glibc
import Testing

/// The `daxmap` executable, as a user runs it.
@Suite struct CLITests {
    private var cli: String { buildDirectory + "/daxmap" }

    @Test func demoSurvivesRealFaultsAndARemovalWithNoRecordLost() throws {
        // The releasing holders must release before the deadline, the stubborn one is
        // revoked at it: 10 s (not the default 300 ms) so a loaded host's holder threads
        // get their turn; the removal waits that long only for the stubborn holder.
        let result = runProgram([cli, "demo", "--json", "--holders", "3", "--deadline", "10000"])
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

    /// The operator's tools and the workloads that write to a device are listed apart.
    @Test func helpGroupsOperatorCommandsApartFromWorkloads() throws {
        let help = runProgram([cli, "--help"])
        #expect(help.status == 0)
        let text = help.stdout
        let workloads = try #require(text.firstRange(of: "WORKLOAD AND TEST SUBCOMMANDS:"), "\(text)")
        let operators = try #require(text.firstRange(of: "OPERATOR SUBCOMMANDS:"), "\(text)")
        try #require(operators.upperBound <= workloads.lowerBound)
        let operatorPart = String(text[operators.upperBound..<workloads.lowerBound])
        let parts = [operatorPart, String(text[workloads.upperBound...])]
        for command in ["list", "info", "watch", "holders", "retire", "scrub", "inject"] {
            #expect(operatorPart.contains("\n  \(command) "), "\(command) is an operator command")
        }
        for command in ["hold", "verify", "demo", "poison", "map-check", "crash-test"] {
            #expect(parts[1].contains("\n  \(command) "), "\(command) is a workload or test command")
            #expect(!operatorPart.contains("\n  \(command) "), "\(command) is not an operator command")
        }
    }

    @Test func demoTimelineIsReadable() throws {
        let result = runProgram([cli, "demo", "--holders", "2"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("truncated the backing file"))
        #expect(result.stdout.contains("removal completed"))
        #expect(result.stdout.contains("0 lost; process alive"))
    }

    // Bad inputs: the one table in CLIBadInputTests.

    @Test func demoRejectsNonsenseOptions() {
        let result = runProgram([cli, "demo", "--holders", "0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--holders"))
    }
}

/// `hold` and `verify`, the harness's workload, on an emulated device.
@Suite struct HoldVerifyTests {
    private var cli: String { buildDirectory + "/daxmap" }

    @Test func holdTimesOutWithoutARemovalAndVerifyFindsEveryRecord() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = dir.file("dev"), log = dir.file("acked")
        let hold = runProgram([cli, "hold", device, "--file-size", "4194304", "--holders", "2", "--acked", log, "--timeout", "1"])
        #expect(hold.status == 3, "\(hold)")
        #expect(hold.stderr.contains("READY"))
        #expect(hold.stdout.contains("\"timedOut\":true"))
        #expect(!hold.stdout.contains("\"recordsAcknowledged\":0"))
        let verify = runProgram([cli, "verify", "--acked", log])
        #expect(verify.status == 0, "\(verify)")
        #expect(verify.stdout.contains("\"recordsLost\":0"))
        #expect(!verify.stdout.contains("\"recordsVerified\":0,"))
    }

    @Test func verifyCatchesACorruptedRecord() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = dir.file("dev"), log = dir.file("acked")
        _ = runProgram([cli, "hold", device, "--file-size", "1048576", "--holders", "1", "--acked", log, "--timeout", "1"])
        // Flip one byte of the first record's payload.
        let fd = open(device, O_RDWR)
        var byte: UInt8 = 0
        pread(fd, &byte, 1, 4096 + 100)
        byte ^= 0xFF
        pwrite(fd, &byte, 1, 4096 + 100)
        close(fd)
        let verify = runProgram([cli, "verify", "--acked", log])
        #expect(verify.status == 1)
        #expect(!verify.stdout.contains("\"recordsLost\":0"), "\(verify)")
        #expect(verify.stdout.contains("holder 0 record 0: corrupted (checksum mismatch; the records after it are intact)"), "\(verify)")
        #expect(verify.stdout.contains("\"recordsLost\":1,"), "only the corrupted record is lost: \(verify)")
    }

    @Test func holdReleasesEverythingWhenTheDeviceVanishes() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = dir.file("dev"), log = dir.file("acked")
        // The holder process runs in the background; truncating its device to
        // nothing is a real removal (BUS_ADRERR on a vanished device).
        let script = """
            '\(cli)' hold '\(device)' --file-size 4194304 --holders 3 --acked '\(log)' --timeout 30 --await-return 10 > '\(dir.file("out"))' 2> '\(dir.file("err"))' &
            pid=$!
            for i in $(seq 100); do grep -q READY '\(dir.file("err"))' && break; sleep 0.1; done
            truncate -s 0 '\(device)'
            for i in $(seq 100); do grep -q REMOVED '\(dir.file("err"))' && break; sleep 0.1; done
            truncate -s 4194304 '\(device)'
            wait $pid; echo "status=$?" >> '\(dir.file("out"))'
            """
        _ = system(script)
        let out = readFile(dir.file("out"))
        #expect(out.contains("status=0"), "\(out) \(readFile(dir.file("err")))")
        #expect(out.contains("\"removalSource\":\"accessError\""))
        #expect(out.contains("\"holdersPreRemoved\":3"))
        #expect(out.contains("\"preRemoveNotifications\":3"))
        #expect(out.contains("\"descriptorsOpen\":0"))
        #expect(out.contains("\"exitedGracefully\":true"))
        // The device came back while the process lived; its old mappings stayed dead.
        #expect(out.contains("\"devicesBack\":1"), "\(out)")
        #expect(out.contains("\"oldMappingsAlive\":0"), "\(out)")
    }

    /// Raw writers (unguarded stores under replacePages) beside the logs: the
    /// device vanishing under their stores (real BUS_ADRERR) costs pages, not
    /// the process; each is told.
    @Test func rawWritersBesideTheLogsLiveThroughTheDeviceVanishing() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = dir.file("dev"), log = dir.file("acked")
        let script = """
            '\(cli)' hold '\(device)' --create 4194304 --holders 2 --raw-holders 2 --acked '\(log)' --timeout 30 > '\(dir.file("out"))' 2> '\(dir.file("err"))' &
            pid=$!
            for i in $(seq 100); do grep -q READY '\(dir.file("err"))' && break; sleep 0.1; done
            truncate -s 0 '\(device)'
            wait $pid; echo "status=$?" >> '\(dir.file("out"))'
            truncate -s 4194304 '\(device)'
            """
        _ = system(script)
        let out = readFile(dir.file("out"))
        #expect(out.contains("status=0"), "\(out) \(readFile(dir.file("err")))")
        #expect(out.contains("\"rawHolders\":2") && out.contains("\"rawHoldersTold\":2"), "\(out)")
        #expect(!out.contains("\"rawRounds\":0,"), "the raw writers wrote: \(out)")
        #expect(out.contains("\"descriptorsOpen\":0") && out.contains("\"exitedGracefully\":true"), "\(out)")
        // Everything went with the truncation to 0 (the file came back as zeros): verify
        // fails and says why, never "0 lost".
        let verify = runProgram([cli, "verify", "--acked", log, "--json"])
        #expect(verify.status == 1 && verify.stderr.contains("holds no log"), "\(verify)")
    }
}

/// `watch` prints the kernel's uevents and device events live.
@Suite struct WatchTests {
    @Test func watchPrintsARealKernelUEvent() throws {
        // Writing to a uevent file makes the kernel itself send one (root, writable /sys):
        // skipped with the reason where it cannot, like UEventListenerTests.
        try requireUEventTrigger()
        try requireNetlinkUEvents()  // and `watch` hears uevents only through netlink
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let cli = buildDirectory + "/daxmap"
        let script = """
            '\(cli)' watch --json > '\(dir.file("out"))' 2>&1 &
            pid=$!
            sleep 1
            echo change > '\(ueventTriggerFile)'
            for i in $(seq 50); do grep -q '/devices/virtual/mem/null' '\(dir.file("out"))' && break; sleep 0.1; done
            kill $pid; wait $pid
            """
        _ = system(script)
        let out = readFile(dir.file("out"))
        #expect(out.contains("\"event\":\"uevent\""), "\(out)")
        #expect(out.contains("uevent change /devices/virtual/mem/null"), "\(out)")
    }
}
