import DaxMap
import Glibc
import Testing
@testable import DaxLog

/// One log region, one writer: a second writable open of an overlapping
/// region, by any path, is `.inUse` naming the owner; close gives it up.
@Suite struct LogOwnershipTests {
    private func expectInUse(_ open: () throws(DaxLogError) -> DaxLog, owner pid: Int32, _ what: String) {
        do throws(DaxLogError) {
            let second = try open()
            Issue.record("\(what): a second writer opened \(second)")
        } catch {
            #expect(error.code == .inUse, "\(what): \(error)")
            #expect(error.owner?.pid == pid, "\(what): \(error)")
            #expect(error.message.contains("process \(pid)"), "\(what): \(error)")
        }
    }

    @Test func aSecondWriterOnTheSameDeviceIsRefusedNamingThisProcess() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 20)
        let first = try DaxLog.open(device: device, offset: 0, length: 64 << 10)
        try first.append([1, 2, 3])
        expectInUse({ () throws(DaxLogError) in try DaxLog.open(device: device, offset: 0, length: 64 << 10) }, owner: getpid(), "same region")
        expectInUse({ () throws(DaxLogError) in try DaxLog.open(device: device, offset: 32 << 10, length: 64 << 10) }, owner: getpid(), "overlapping")
        // Refused before anything was written: the first log's record is intact and it goes on.
        #expect(try first.append([4]) == 1)
        // Beside it, a disjoint region is another log's; a reader takes nothing.
        let beside = try DaxLog.open(device: device, offset: 64 << 10, length: 64 << 10)
        let reader = try DaxLog.open(device: device, offset: 0, length: 64 << 10, options: .init(creation: .never, readOnly: true))
        #expect(try reader.records().map(\.bytes) == [[1, 2, 3], [4]])
        beside.close()
        first.close()
        let third = try DaxLog.open(device: device, offset: 0, length: 64 << 10, options: .init(creation: .never))
        #expect(try third.records().count == 2 && third.nextSequence == 2)
    }

    @Test func everyPathToTheFileMeetsTheOwner() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: 1 << 20)
        #expect(symlink(path, dir.file("link")) == 0 && link(path, dir.file("hard")) == 0 && mkdir(dir.file("sub"), 0o755) == 0)
        let first = try DaxLog.open(device: try DaxDevice.open(path))
        for other in [path, dir.file("link"), dir.file("hard"), dir.file("sub/../dev")] {
            let device = try DaxDevice.open(other)
            expectInUse({ () throws(DaxLogError) in try DaxLog.open(device: device) }, owner: getpid(), other)
            device.close()
        }
        first.close()
        let again = try DaxLog.open(device: try DaxDevice.open(dir.file("link")), options: .init(creation: .never))
        #expect(again.state == .open)
    }

    /// Another process owns the region (an OFD write lock on it, as a DaxLog there takes): named by pid and command.
    @Test func aWriterInAnotherProcessIsNamed() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: 1 << 20)
        // F_OFD_SETLK (37), a write lock on the whole file.
        let script = """
            import fcntl, os, struct, sys, time
            fd = os.open(sys.argv[1], os.O_RDWR)
            fcntl.fcntl(fd, 37, struct.pack('hhqqi', fcntl.F_WRLCK, 0, 0, 0, 0))
            print('locked', flush=True)
            time.sleep(600)
            """
        _ = system("printf '%s' \(quoted(script)) > \(quoted(dir.file("hold.py")))")
        let pidFile = dir.file("pid")
        _ = system("python3 \(quoted(dir.file("hold.py"))) \(quoted(path)) > \(quoted(dir.file("out"))) & echo $! > \(quoted(pidFile))")
        let pid = Int32(readFile(pidFile).split(separator: "\n").first ?? "") ?? 0
        #expect(pid > 0)
        defer { if pid > 0 { kill(pid, SIGKILL) } }
        let locked = await waitUntil(seconds: 120) { readFile(dir.file("out")).contains("locked") }
        #expect(locked)
        let device = try DaxDevice.open(path)
        expectInUse({ () throws(DaxLogError) in try DaxLog.open(device: device) }, owner: pid, "another process")
        do { _ = try DaxLog.open(device: device) } catch { #expect(error.owner?.command == "python3" && error.owner?.isThisProcess == false, "\(error)") }
    }
}
