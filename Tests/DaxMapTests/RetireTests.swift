import Glibc
import Testing
@testable import DaxMap

/// Planned removal across processes (issue 9): `daxmap retire` and `daxmap holders`
/// against real separate processes on an emulated device file.
@Suite(.serialized) struct RetireTests {
    private var cli: String { buildDirectory + "/daxmap" }
    private static let deviceSize = 6 * 1024 * 1024

    /// A scratch folder others may read (a retire under another uid must see the file).
    private func scratch() -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        chmod(dir.path, 0o755)
        return dir
    }

    private func makeDevice(_ dir: TemporaryDirectory) -> String {
        let path = dir.file("dev")
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        precondition(fd >= 0 && ftruncate(fd, off_t(Self.deviceSize)) == 0)
        close(fd)
        return path
    }

    /// Starts a shell command in the background; its pid (the command's own, through exec).
    private func background(_ command: String) -> Int32 {
        let r = runShell("exec 3>&1; (\(command)) </dev/null >/dev/null 2>&1 3>&- & echo $! >&3")
        return Int32(r.stdout.split(separator: "\n").first ?? "") ?? -1
    }

    /// `hold` part `slot` of 3 on `device`, in the background; its summary and status land in `out`.
    /// It waits up to 300 s for the retire the test sends (it ends at the retire): 60 s ran
    /// out under ASan on a loaded host before the three holds, python and the listing were done.
    private func startHold(_ device: String, slot: Int, _ dir: TemporaryDirectory) -> (out: String, err: String, acked: String) {
        let out = dir.file("hold\(slot).out"), err = dir.file("hold\(slot).err"), acked = dir.file("acked\(slot)")
        _ = background("'\(cli)' hold '\(device)' --holders 2 --slot \(slot) --slots 3 --acked '\(acked)' --timeout 300 > '\(out)' 2> '\(err)'; echo status=$? >> '\(out)'")
        return (out, err, acked)
    }

    /// A plain Python process that maps the whole file and sleeps; not a daxmap process.
    private func startPython(_ device: String, _ dir: TemporaryDirectory) async -> Int32 {
        let ready = dir.file("python.ready")
        let pid = background("exec python3 -c 'import mmap, sys, time\nf = open(sys.argv[1], \"r+b\")\nm = mmap.mmap(f.fileno(), 0)\nopen(sys.argv[2], \"w\").write(\"READY\")\ntime.sleep(300)' '\(device)' '\(ready)'")
        #expect(await waitUntil(seconds: 30) { readFile(ready) == "READY" }, "python never mapped the file")
        return pid
    }

    /// Whether `pid` runs (a zombie, or a process whose threads are all gone, does not).
    private func alive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        return !readFile("/proc/\(pid)/stat").contains(") Z ") && !readFile("/proc/\(pid)/stat").contains(") X ")
    }

    private func stop(_ pid: Int32) async {
        kill(pid, SIGKILL)
        await waitUntil(seconds: 10) { !alive(pid) }
    }

    /// A process that exits as soon as its removal is done still answers the
    /// retire that asked for it: the answer used to be lost to the exit, and
    /// the retire counted the process released but not notified.
    @Test func aProcessThatExitsRightAfterItsRemovalStillAnswers() async throws {
        let dir = scratch()
        defer { dir.remove() }
        let out = dir.file("probe.out")
        let pid = background("exec '\(buildDirectory)/daxmap-probe' exit-after-retire '\(dir.path)' > '\(out)'")
        defer { kill(pid, SIGKILL) }
        #expect(await waitUntil(seconds: 60) { readFile(out).contains("READY") }, "the probe never mapped its device")
        let retire = runProgram([cli, "retire", dir.file("dev"), "--deadline", "5", "--then", "none", "--json"])
        #expect(retire.status == 0, "\(retire)")
        #expect(retire.stdout.contains("\"processesNotified\":1"), "\(retire.stdout)")
        #expect(retire.stdout.contains("\"holdersNotified\":1"), "\(retire.stdout)")
        #expect(await waitUntil(seconds: 30) { !alive(pid) }, "the probe exits after its removal")
    }

    @Test func holdersAreNotifiedWithSourceOperatorAndAForeignMapperIsNamedNotKilled() async throws {
        let dir = scratch()
        defer { dir.remove() }
        let device = makeDevice(dir)
        let holds = (0..<3).map { startHold(device, slot: $0, dir) }
        for h in holds {
            #expect(await waitUntil(seconds: 60) { readFile(h.err).contains("READY") }, "\(readFile(h.err))")
        }
        let python = await startPython(device, dir)
        defer { kill(python, SIGKILL) }

        let listed = runProgram([cli, "holders", device, "--json"])
        #expect(listed.status == 0, "\(listed)")
        #expect(listed.stdout.components("\"daxmap\":true,\"holders\":2") == 3, "\(listed.stdout)")
        #expect(listed.stdout.contains("{\"pid\":\(python),\"command\":\"python3\""), "\(listed.stdout)")
        #expect(listed.stdout.contains("\"daxmap\":false,\"holders\":null"), "\(listed.stdout)")

        let retire = runProgram([cli, "retire", device, "--deadline", "3", "--then", "none", "--json"])
        #expect(retire.status == 2, "a straggler is exit 2: \(retire)")
        #expect(retire.stdout.contains("\"processesNotified\":3"),
                "\(retire.stdout) \(retire.stderr) holds: \(holds.map { readFile($0.out) + readFile($0.err) })")
        #expect(retire.stdout.contains("\"holdersNotified\":6"), "\(retire.stdout)")
        #expect(retire.stdout.contains("\"faultSignals\":0"), "\(retire.stdout)")
        #expect(retire.stdout.contains("\"stragglers\":[{\"pid\":\(python),\"command\":\"python3\""), "\(retire.stdout)")
        #expect(retire.stdout.components("\"pid\":") == 1, "only python is left: \(retire.stdout)")
        #expect(alive(python), "a non-daxmap process is never killed")

        for h in holds {
            #expect(await waitUntil(seconds: 30) { readFile(h.out).contains("status=") }, "\(readFile(h.err))")
            let out = readFile(h.out)
            #expect(out.contains("status=0"), "\(out) \(readFile(h.err))")
            #expect(out.contains("\"holders\":2,\"holdersNotified\":2,\"holdersPreRemoved\":2"), "\(out)")
            #expect(out.contains("\"faultSignals\":0"), "\(out)")
            #expect(out.contains("\"removalSource\":\"operator\""), "\(out)")
            #expect(out.contains("\"descriptorsOpen\":0"), "\(out)")
            let verify = runProgram([cli, "verify", "--acked", h.acked])
            #expect(verify.status == 0, "\(verify)")
            #expect(verify.stdout.contains("\"recordsLost\":0"), "\(verify)")
            #expect(!verify.stdout.contains("\"recordsVerified\":0,"), "\(verify)")
        }
        await stop(python)
        // Nobody left: a retire now releases everything and exits 0.
        let again = runProgram([cli, "retire", device, "--deadline", "1"])
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout.contains("0 straggler(s)"), "\(again)")
    }

    /// Another uid cannot even reach root's channel (its directory is root's,
    /// mode 0700): its retire notifies nobody, claims nothing (exit 4: it could
    /// not inspect root's processes), and root's retire still works.
    @Test func aRetireFromAnotherUIDReachesNoChannelAndClaimsNothing() async throws {
        let dir = scratch()
        defer { dir.remove() }
        let device = makeDevice(dir)
        let hold = startHold(device, slot: 0, dir)
        #expect(await waitUntil(seconds: 60) { readFile(hold.err).contains("READY") }, "\(readFile(hold.err))")
        let holdPid = HolderScan.scan(try RetireTarget(path: device)).found.first { $0.command == "daxmap" }?.pid ?? -1
        // This process listens too (it has a page of the device mapped).
        let mine = try DaxDevice.open(device)
        let mineMapped = try mine.map(length: UInt64(pageSize))

        let foreign = runProgram(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                  cli, "retire", device, "--deadline", "1", "--json"])
        #expect(foreign.status == 4, "\(foreign)")
        #expect(foreign.stdout.contains("\"processesNotified\":0"), "\(foreign.stdout)")
        #expect(foreign.stdout.contains("\"released\":false"), "\(foreign.stdout)")
        #expect(!foreign.stdout.contains("\"unreadableProcesses\":0"), "\(foreign.stdout)")
        #expect(mine.lifecycle == .alive && mineMapped.isUsable)
        mineMapped.close()
        mine.close()
        #expect(alive(holdPid) && !readFile(hold.out).contains("status="), "the hold process keeps running")
        let still = try DaxRetirement.holders(path: device)
        #expect(still.contains { $0.pid == holdPid && $0.bytesMapped > 0 && $0.runsDaxmap && $0.holders == 2 }, "\(still)")

        // Root may: the hold process ends gracefully (the retiring process itself is not asked).
        let report = try await DaxRetirement.retire(path: device, deadline: .seconds(2))
        #expect(report.stragglers.isEmpty, "\(report)")
        #expect(report.succeeded, "\(report)")
        #expect(await waitUntil(seconds: 30) { readFile(hold.out).contains("status=0") }, "\(readFile(hold.out))")
    }

    @Test func aRetirerKilledMidRetireBlocksNeitherTheNextOpenNorTheNextRetire() async throws {
        let dir = scratch()
        defer { dir.remove() }
        let device = makeDevice(dir)
        let python = await startPython(device, dir) // never lets go: the retire waits its deadline
        defer { kill(python, SIGKILL) }
        let retirer = background("exec '\(cli)' retire '\(device)' --deadline 120")

        // While it runs, opening the device in another process (this one) is refused, naming it.
        var refusal: DaxError?
        let frozen = await waitUntil(seconds: 30) {
            do throws(DaxError) { try DaxDevice.open(device).close(); return false } catch {
                refusal = error
                return error.code == .deviceGoing
            }
        }
        #expect(frozen, "\(String(describing: refusal))")
        #expect(refusal?.message.contains("pid \(retirer) (daxmap)") == true, "\(String(describing: refusal))")
        // And in a daxmap process of its own: `hold` cannot open it either.
        let hold = runProgram([cli, "hold", device, "--acked", dir.file("acked"), "--timeout", "1"])
        #expect(hold.status == 1, "\(hold)")
        #expect(hold.stderr.contains("deviceGoing") || hold.stderr.contains("planned removal (daxmap retire) by pid \(retirer)"), "\(hold)")

        await stop(retirer)
        // The marker it left is stale: opening and mapping work, and the next retire runs.
        // (Bounded wait: a killed process's other threads, which hold its descriptors, die
        // just after its main thread shows as a zombie.)
        var reopened: DaxDevice?
        var lastError: DaxError?
        await waitUntil(seconds: 10) {
            do throws(DaxError) { reopened = try DaxDevice.open(device) } catch { lastError = error }
            return reopened != nil
        }
        let reopenedDevice = try #require(reopened, "\(String(describing: lastError))")
        let mapping = try reopenedDevice.map(length: UInt64(pageSize))
        mapping.close()
        reopenedDevice.close()
        let next = runProgram([cli, "retire", device, "--deadline", "0.5", "--json"])
        #expect(next.status == 2, "python still maps it: \(next)")
        #expect(next.stdout.contains("\"stragglers\":[{\"pid\":\(python)"), "\(next)")
        #expect(alive(python))
        await stop(python)
    }

    @Test(arguments: [
        (["retire", "/nonexistent/daxmap-retire"], "no such file"),
        (["retire", "/tmp/daxmap no such file with spaces"], "/tmp/daxmap no such file with spaces"),
        (["holders", "/nonexistent/daxmap-retire"], "no such file"),
        (["retire", "/tmp", "--deadline", "-1"], "--deadline must be a number of seconds"),
        (["retire", "/tmp", "--deadline", "nan"], "--deadline must be a number of seconds"),
        (["retire", "/tmp", "--deadline", "1e300"], "--deadline must be a number of seconds"),
        (["retire", "/tmp", "--then", "bogus"], "bogus"),
        // Not DAX: /dev/null would name every process that has it open; a mount on an
        // ordinary disk or tmpfs would be unmounted and unbound by --then unmount-unbind.
        (["retire", "/dev/null", "--then", "unbind"], "not device-dax"),
        (["holders", "/dev/null"], "not device-dax"),
        (["retire", "/", "--then", "unmount-unbind"], "is not NVDIMM pmem"),
    ])
    func badInputsAreUsageErrorsNamingWhatAndWhy(args: [String], reason: String) {
        let r = runProgram([cli] + args)
        #expect(r.status == 64, "\(r)")
        #expect(r.stderr.contains(reason), "\(r)")
    }

    @Test func aDirectoryThatIsNotAMountIsATypedErrorAndAPathWithSpacesWorks() async throws {
        let dir = scratch()
        defer { dir.remove() }
        let notMount = runProgram([cli, "retire", dir.path])
        #expect(notMount.status == 64, "\(notMount)")
        #expect(notMount.stderr.contains("is a directory but not a mount point"), "\(notMount)")
        do {
            _ = try await DaxRetirement.retire(path: dir.path)
            Issue.record("a directory that is not a mount must be refused")
        } catch {
            #expect(error.code == .invalidArgument)
        }
        do {
            _ = try await DaxRetirement.retire(path: dir.path, deadline: .seconds(-1))
            Issue.record("a negative deadline must be refused")
        } catch {
            #expect(error.code == .invalidArgument)
        }
        // A file whose name has spaces: nobody holds it, so the retire succeeds at once.
        let spaced = dir.file("a device with spaces")
        #expect(close(open(spaced, O_RDWR | O_CREAT, 0o644)) == 0 && truncate(spaced, 1 << 20) == 0)
        let r = runProgram([cli, "retire", spaced, "--deadline", "1", "--then", "none"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.hasPrefix(spaced + ": 0 process(es) found"), "\(r)")
        // Asked to remove a file, the retire says it is the operator's to do (exit 3).
        let disable = runProgram([cli, "retire", spaced, "--deadline", "1", "--then", "disable", "--json"])
        #expect(disable.status == 3, "\(disable)")
        #expect(disable.stdout.contains("\"removal\":\"leftToOperator\""), "\(disable)")
    }

    /// The channel's name is predictable (the pid): only a listener whose
    /// credentials are that process's is believed, even in the uid's own directory.
    @Test func anImpostorListeningUnderAnotherProcesssNameIsNotBelieved() async throws {
        let child = background("exec sleep 60")
        defer { kill(child, SIGKILL); var st: Int32 = 0; waitpid(child, &st, 0) }
        #expect(child > 0)
        // This test process (same uid) binds the child's name, as an impostor would.
        guard case .success(let directory) = RetireDirectory.open(for: geteuid(), create: true) else {
            Issue.record("no retire directory for uid \(geteuid())")
            return
        }
        defer { close(directory.fd); unlink(directory.path + "/\(child)") }
        let fd = socket(AF_UNIX, CInt(SOCK_SEQPACKET.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let name = Array((directory.path + "/\(child)").utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { p in for (i, b) in name.enumerated() { p[i] = b } }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + name.count + 1)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        #expect(bound == 0 && listen(fd, 4) == 0)
        let result = RetireSocket.connect(to: child)
        #expect(result == .failure(RetireSocket.Failure.notDaxmap))
        if case .success(let c) = result { close(c) }
    }

    /// Connections that send nothing tie up at most `maximumServing` threads, and
    /// the channel answers again once they go.
    @Test func aFloodOfSilentConnectionsIsBoundedAndTheChannelRecovers() async throws {
        let dir = scratch()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("flood"), size: 2 << 20)
        defer { device.close() }
        // A mapping is what makes this process listen (opening alone does not).
        let mapping = try device.map(length: UInt64(pageSize))
        defer { mapping.close() }
        // The channel's own threads (the listener and one per request served), by name:
        // the process's thread count moves with the suites running beside this one.
        func retireThreads() -> Int {
            guard let d = opendir("/proc/self/task") else { return -1 }
            defer { closedir(d) }
            var n = 0
            while let e = readdir(d) {
                let tid = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if tid.first != ".", readFile("/proc/self/task/\(tid)/comm").hasPrefix("daxmap-retire") { n += 1 }
            }
            return n
        }
        /// Whether the channel closed `c` (unanswered past the bound, or silent too long).
        func closedByPeer(_ c: CInt) -> Bool {
            var byte: UInt8 = 0
            return recv(c, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK)) == 0
        }
        var clients: [CInt] = []
        for _ in 0..<40 {
            if case .success(let c) = RetireSocket.connect(to: getpid()) { clients.append(c) }
        }
        #expect(clients.count == 40)
        // The retire threads, sampled until the listener has taken every connection (those past
        // the bound are closed at once; the served ones after the server's 5 s receive timeout):
        // at no moment more than the bound. Unbounded, 40 threads would wait out those 5 s.
        let excess = clients.count - RetireChannel.maximumServing
        var peak = 0
        let taken = await waitUntil(seconds: 60) {
            peak = max(peak, retireThreads())
            return clients.filter(closedByPeer).count >= excess
        }
        #expect(taken, "the listener closed the excess connections")
        // The listener, the requests served, and one that may still be ending after its slot was freed.
        #expect(peak <= RetireChannel.maximumServing + 2, "\(peak) retire threads for 40 silent connections")
        for c in clients { close(c) }
        var answered = false
        _ = await waitUntil(seconds: 10) {
            guard case .success(let c) = RetireSocket.connect(to: getpid()) else { return false }
            defer { close(c) }
            if case .success(let a) = RetireSocket.ask(c, RetireWire.encode(.status(key: "no-such-key")), timeout: .seconds(1)) {
                answered = a.pid == getpid() && !a.refused
            }
            return answered
        }
        #expect(answered, "the channel answers once the silent connections are gone")
    }

    /// `--then unbind` of a mounted fsdax device is left to the operator (the unmount
    /// first): unbinding under a mounted XFS livelocks 7.2.
    @Test func aMountedBlockDeviceIsFoundInMountinfo() {
        let info = """
        22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
        36 22 259:0 / /tmp/mnt\\040dax rw,relatime shared:9 - xfs /dev/pmem0 rw,dax=always
        """
        #expect(RetireRemoval.mountPoint(major: 259, minor: 0, mountinfo: info) == "/tmp/mnt dax")
        #expect(RetireRemoval.mountPoint(major: 259, minor: 1, mountinfo: info) == nil)
        #expect(RetireRemoval.mountPoint(major: 8, minor: 1, mountinfo: info) == "/")
        #expect(RetireRemoval.unescaped("a\\134b\\011c\\04") == "a\\b\tc\\04")
    }
}

private extension String {
    /// How often `needle` occurs.
    func components(_ needle: String) -> Int {
        var count = 0
        var rest = self[...]
        while let r = rest.firstRange(of: needle) {
            count += 1
            rest = rest[r.upperBound...]
        }
        return count
    }

}
