import CDaxMap
import CDaxMapTesting
import Glibc
import Testing
@testable import DaxMap
import DaxMapTesting
import DaxMapSync

/// Retire v2 (issue 27): what another local user can do to the retire channel
/// (squat its names, flood it), what a retire that cannot see every process
/// claims, and whose faults a retire's answer counts. The other user is
/// `nobody` (65534) through `setpriv`, so these run as root and skip otherwise.
@Suite(.serialized) struct RetireIsolationTests {
    private var cli: String { buildDirectory + "/daxmap" }

    /// Why another uid cannot be had here, or nil when it can.
    private static var noOtherUser: String? {
        if geteuid() != 0 { return "needs root to run a child as nobody (setpriv --reuid=65534)" }
        if runShell("command -v setpriv && test -x /usr/bin/python3").status != 0 { return "setpriv or /usr/bin/python3 missing" }
        return nil
    }

    private func scratch() -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        chmod(dir.path, 0o755)
        return dir
    }

    private func makeDevice(_ dir: TemporaryDirectory, size: Int = 4 << 20) -> String {
        let path = dir.file("dev")
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        precondition(fd >= 0 && ftruncate(fd, off_t(size)) == 0)
        close(fd)
        return path
    }

    /// Starts a shell command in the background; its pid (the command's own, through exec).
    private func background(_ command: String) -> Int32 {
        let r = runShell("exec 3>&1; (\(command)) </dev/null >/dev/null 2>&1 3>&- & echo $! >&3")
        return Int32(r.stdout.split(separator: "\n").first ?? "") ?? -1
    }

    /// `python3 SCRIPT ARGS` as nobody in the background; its output in `out`.
    private func asNobody(_ script: String, _ args: [String], out: String) -> Int32 {
        let quotedArgs = args.map { "'\($0)'" }.joined(separator: " ")
        return background("ulimit -n 8192; exec setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '\(script)' \(quotedArgs) > '\(out)' 2>&1")
    }

    private func startHold(_ device: String, _ dir: TemporaryDirectory) async -> (pid: Int32, out: String) {
        let out = dir.file("hold.out"), err = dir.file("hold.err")
        let pid = background("exec '\(cli)' hold '\(device)' --holders 1 --acked '\(dir.file("acked"))' --timeout 120 > '\(out)' 2> '\(err)'")
        #expect(await waitUntil(seconds: 60) { readFile(err).contains("READY") }, "\(readFile(err))")
        return (pid, out)
    }

    private func stop(_ pid: Int32) {
        kill(pid, SIGKILL)
        var st: Int32 = 0
        waitpid(pid, &st, 0)
    }

    /// Squatting: nobody binds the channel names of the next 4000 pids (the old
    /// abstract `\0daxmap.<pid>`) and tries to make root's directories; root's
    /// `hold` still gets a channel, and root's retire reaches it.
    @Test func namesBoundFirstByAnotherUserDoNotCutRootsHoldOff() async throws {
        if let why = Self.noOtherUser { print("skipped: \(why)"); return }
        let dir = scratch()
        defer { dir.remove() }
        let device = makeDevice(dir)
        let squat = """
            import os, socket, sys, time
            start = int(open("/proc/sys/kernel/ns_last_pid").read())
            held = []
            for pid in range(start + 1, start + 4001):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                try:
                    s.bind("\\0daxmap.%d" % pid); s.listen(16); held.append(s)
                except OSError:
                    s.close()
            for d in ("/run/daxmap", "/run/daxmap/0", "/run/user/0", "/run/user/0/daxmap"):
                try: os.mkdir(d, 0o777)
                except OSError: pass
            print("SQUATTED %d %d" % (len(held), start), flush=True)
            time.sleep(120)
            """
        let out = dir.file("squat.out")
        let squatter = asNobody(squat, [], out: out)
        defer { stop(squatter) }
        #expect(await waitUntil(seconds: 60) { readFile(out).contains("SQUATTED") }, "\(readFile(out))")
        let hold = await startHold(device, dir)
        defer { stop(hold.pid) }
        let retire = runProgram([cli, "retire", device, "--deadline", "5", "--json"])
        #expect(retire.status == 0, "\(retire) squatter: \(readFile(out)) hold pid \(hold.pid)")
        #expect(retire.stdout.contains("\"processesNotified\":1"), "\(retire.stdout)")
        #expect(retire.stdout.contains("\"released\":true"), "\(retire.stdout)")
    }

    /// Flooding: 16 idle connections of nobody's (to every name the hold could
    /// listen under) do not keep root's retire from reaching root's hold.
    @Test func idleConnectionsOfAnotherUserDoNotKeepRootsRetireOut() async throws {
        if let why = Self.noOtherUser { print("skipped: \(why)"); return }
        let dir = scratch()
        defer { dir.remove() }
        let device = makeDevice(dir)
        let hold = await startHold(device, dir)
        defer { stop(hold.pid) }
        let flood = """
            import socket, sys, time
            pid = int(sys.argv[1]); held = []
            for i in range(16):
                for address in ("\\0daxmap.%d" % pid, "/run/daxmap/0/%d" % pid, "/run/user/0/daxmap/%d" % pid):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                    try:
                        s.connect(address); held.append(s); break
                    except OSError:
                        s.close()
            print("CONNECTED %d" % len(held), flush=True)
            time.sleep(120)
            """
        let out = dir.file("flood.out")
        let flooder = asNobody(flood, ["\(hold.pid)"], out: out)
        defer { stop(flooder) }
        #expect(await waitUntil(seconds: 60) { readFile(out).contains("CONNECTED") }, "\(readFile(out))")
        let retire = runProgram([cli, "retire", device, "--deadline", "5", "--json"])
        #expect(retire.status == 0, "\(retire) flooder: \(readFile(out))")
        #expect(retire.stdout.contains("\"processesNotified\":1"), "\(retire.stdout)")
        #expect(retire.stdout.contains("\"holdersNotified\":1"), "\(retire.stdout)")
    }

    /// A process that can have no channel directory (nobody, no /run/user/65534)
    /// says so: an event, a count and the reason, never silence.
    @Test func aChannelThatCannotBeSetUpIsAnEventAndACount() async throws {
        if let why = Self.noOtherUser { print("skipped: \(why)"); return }
        if access("/run/user/65534", F_OK) == 0 { print("skipped: /run/user/65534 exists here"); return }
        let dir = scratch()
        defer { dir.remove() }
        chmod(dir.path, 0o777)
        let r = runProgram(["timeout", "60", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            buildDirectory + "/daxmap-probe", "channel-unavailable", dir.path])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("event no directory for the retire channel"), "\(r)")
        #expect(r.stdout.contains("failures 1 reason no directory for the retire channel"), "\(r)")
        #expect(r.stdout.contains("/run/user/65534"), "the reason names where it looked: \(r)")
    }

    /// A blind retire: as nobody, a file root's plain process maps. It cannot
    /// read root's maps, so it must not claim "released" (exit 4, the count
    /// named), and `holders` says other users' processes were not visible.
    @Test func aRetireThatCannotSeeEveryProcessClaimsNothing() async throws {
        if let why = Self.noOtherUser { print("skipped: \(why)"); return }
        let dir = scratch()
        defer { dir.remove() }
        let device = makeDevice(dir)
        let ready = dir.file("python.ready")
        let python = background("exec python3 -c 'import mmap, sys, time\nf = open(sys.argv[1], \"r+b\")\nm = mmap.mmap(f.fileno(), 0)\nopen(sys.argv[2], \"w\").write(\"READY\")\ntime.sleep(300)' '\(device)' '\(ready)'")
        defer { stop(python) }
        #expect(await waitUntil(seconds: 30) { readFile(ready) == "READY" }, "python never mapped the file")
        let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        let retire = runProgram(nobody + [cli, "retire", device, "--deadline", "0.5", "--json"])
        #expect(retire.status == 4, "\(retire)")
        #expect(retire.stdout.contains("\"released\":false"), "\(retire.stdout)")
        #expect(!retire.stdout.contains("\"unreadableProcesses\":0"), "\(retire.stdout)")
        let text = runProgram(nobody + [cli, "retire", device, "--deadline", "0.5"])
        #expect(text.status == 4 && text.stdout.contains("could not be inspected"), "\(text)")
        let holders = runProgram(nobody + [cli, "holders", device])
        #expect(holders.status == 4, "\(holders)")
        #expect(holders.stdout.contains("of other users were not visible"), "\(holders)")
        #expect(!holders.stdout.contains("nobody maps it"), "\(holders)")
        // Root sees it all: python is named, and the listing is complete.
        let root = runProgram([cli, "holders", device, "--json"])
        #expect(root.status == 0 && root.stdout.contains("\"pid\":\(python)") && root.stdout.contains("\"complete\":true"), "\(root)")
        #expect(kill(python, 0) == 0, "python is named, never killed")
    }

    /// A holder of the retired device that makes another device of the same
    /// process fault during the removal: the answer counts the retired
    /// device's faults only (it used to count the process's).
    @Test func aRetireAnswerCountsOnlyTheRetiredDevicesFaults() async throws {
        let dir = scratch()
        defer { dir.remove() }
        let a = try DaxDevice.createEmulated(at: dir.file("a"), size: 2 << 20)
        let b = try DaxDevice.createEmulated(at: dir.file("b"), size: 2 << 20)
        defer { a.close(); b.close() }
        let bMapping = try b.map(length: UInt64(pageSize))
        defer { bMapping.close() }
        let holder = FaultElsewhereHolder(other: bMapping)
        let aMapping = try a.map(length: UInt64(pageSize), holder: holder)
        defer { aMapping.close() }
        let key = try RetireTarget(path: dir.file("a")).key
        let recordedBefore = DaxMonitor.statistics.faultsRecorded
        let answer = await withCheckedContinuation { (c: CheckedContinuation<RetireWire.Answer, Never>) in
            let body: @Sendable () -> Void = {
                c.resume(returning: DaxRuntime.process.retireChannel.answer(.retire(key: key, deadlineMilliseconds: 10_000)))
            }
            if !DetachedThread.start(name: "test-retire", body) { body() }
        }
        #expect(holder.raised.withLock { $0 }, "the holder raised a fault on the other device")
        #expect(DaxMonitor.statistics.faultsRecorded > recordedBefore, "the fault was recorded during the removal")
        #expect(answer.holders == 1 && answer.released, "\(answer)")
        #expect(answer.faultSignals == 0, "\(answer)")
    }
}

/// On pre-remove, raises a real SIGBUS (action optional) on a mapping of
/// another device and waits until the monitor recorded it, then lets go.
final class FaultElsewhereHolder: DaxHolder {
    let other: DaxMapping
    let raised = Locked(false)
    init(other: DaxMapping) { self.other = other }

    func notifyFailure(_ failure: DaxFailure) async -> Bool {
        guard failure.kind == .preRemove else { return true }
        let before = DaxMonitor.statistics.faultsRecorded
        _ = other.raiseForTesting(code: BUS_MCEERR_AO_, at: 0, addressLSB: 12, guarded: false)
        raised.withLock { $0 = true }
        _ = await waitUntil(seconds: 20) { DaxMonitor.statistics.faultsRecorded > before }
        for mapping in failure.mappings { mapping.close() }
        return true
    }
}
