import Glibc
import Testing
@testable import DaxMap

/// Signals daxmap must not act on, and handlers installed over daxmap's: in a
/// child process (daxmap-probe), since they reach the process's previous
/// handler, which in the test process is the Swift runtime's crash handler.
@Suite(.serialized) struct ForgedSignalTests {
    /// The value after `key ` on the line that starts with it.
    private func value(_ output: String, _ key: String) -> String? {
        for line in output.split(separator: "\n") where line.hasPrefix(key + " ") {
            return String(line.dropFirst(key.count + 1))
        }
        return nil
    }

    @Test func aForgedSIGBUSInAMappingReachesThePreviousHandlerAndReplacesNothing() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let result = runProgram([buildDirectory + "/daxmap-probe", "forged-sigbus", dir.path])
        #expect(result.status == 0, "\(result)")
        #expect(value(result.stdout, "sent") == "0")
        #expect(value(result.stdout, "previous-handler-ran") == "1 code -1", "\(result.stdout)")
        #expect(value(result.stdout, "forged") == "1")
        #expect(value(result.stdout, "chained") == "1") // forged signals count as chained too
        #expect(value(result.stdout, "intact") == "true")
        #expect(value(result.stdout, "lost") == "0")
    }

    @Test func aDisplacedHandlerIsReportedAndReinstallPutsDaxmapBackInFront() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let result = runProgram([buildDirectory + "/daxmap-probe", "displaced-handler", dir.path])
        #expect(result.status == 0, "\(result)")
        #expect(value(result.stdout, "displaced-before") == "0", "\(result.stdout)")
        #expect(value(result.stdout, "displaced") == "1") // CDAXMAP_DISPLACED_SIGBUS
        #expect(value(result.stdout, "public-displaced") == "true")
        #expect(value(result.stdout, "map-while-displaced") == "handlerDisplaced", "\(result.stdout)")
        #expect(Int(value(result.stdout, "displacements") ?? "") ?? 0 >= 1, "\(result.stdout)")
        #expect(value(result.stdout, "event") == "true", "\(result.stdout)")
        #expect(value(result.stdout, "reinstall") == "0")
        #expect(value(result.stdout, "displaced-after") == "0")
        #expect(value(result.stdout, "map-after-reinstall") == "ok", "\(result.stdout)")
        #expect(value(result.stdout, "read-error") == "deviceRemoved")
        #expect(value(result.stdout, "chained-by-fault") == "0")
        #expect(value(result.stdout, "recorder-after-fault") == "0")
        // The displacing handler is daxmap's chain target now.
        #expect(value(result.stdout, "recorder-after-forged") == "1")
    }

    /// `daxmap-probe killed-sigbus-PREVIOUS` sent a real `kill(pid, SIGBUS)` by
    /// another process (a shell) once its mapping is in use; the probe then
    /// truncates the device under the mapping. The exit status and the lines printed.
    private func killed(_ previous: String) -> (status: Int32, stdout: String, stderr: String) {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let d = quoted(dir.path)
        let script = """
            \(quoted(buildDirectory + "/daxmap-probe")) killed-sigbus-\(previous) \(d) > \(d)/out 2> \(d)/err & pid=$!
            i=0; while [ ! -e \(d)/ready ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i+1)); done
            kill -BUS $pid; wait $pid; echo "status $?"
            """
        let shell = runShell(script)
        let out = readFile(dir.file("out"))
        let status = Int32(value(shell.stdout, "status") ?? "") ?? -1
        return (status, out, readFile(dir.file("err")))
    }

    /// The process either died of the signal by its default action (128 +
    /// SIGBUS, before it printed anything) or lives on with daxmap's handler in
    /// front: the real fault after it is caught and thrown, never fatal.
    private func expectDeadOrArmed(_ result: (status: Int32, stdout: String, stderr: String)) {
        if result.status == 128 + SIGBUS {
            #expect(value(result.stdout, "forged") == nil, "alive after the kill, then killed by the real fault: \(result)")
        } else {
            #expect(result.status == 0, "\(result)")
            #expect(value(result.stdout, "forged") == "1", "\(result)")
            #expect(value(result.stdout, "displaced") == "0", "\(result)")
            #expect(value(result.stdout, "read-error") == "deviceRemoved", "\(result)")
            #expect(value(result.stdout, "intact") == "true", "\(result)")
        }
    }

    @Test func aKilledSIGBUSWithTheSwiftRuntimesHandlerBehindLeavesTheProcessDeadOrArmed() {
        expectDeadOrArmed(killed("runtime"))
    }

    @Test func aPreviousHandlerThatResetsToDefaultMakesAKilledSIGBUSFatalAsTheDefaultAction() {
        // As the Swift runtime's crash handler does: SIG_DFL, return. The sent
        // signal does not recur, so daxmap takes the default action for it.
        let result = killed("reset")
        #expect(result.status == 128 + SIGBUS, "\(result)")
        #expect(value(result.stdout, "forged") == nil, "lived on disarmed: \(result)")
    }

    @Test func aPreviousHandlerThatIgnoresLeavesDaxmapArmedAfterAKilledSIGBUS() {
        let result = killed("ignore")
        expectDeadOrArmed(result)
        #expect(result.status == 0, "\(result)")
        #expect(value(result.stdout, "previous-handler-ran") == "1", "\(result)")
        #expect(value(result.stdout, "rearmed") == "1", "\(result)")
    }

    @Test func aPreviousHandlerThatReturnsLeavesDaxmapArmedAfterAKilledSIGBUS() {
        let result = killed("recorder")
        expectDeadOrArmed(result)
        #expect(result.status == 0, "\(result)")
        #expect(value(result.stdout, "previous-handler-ran") == "1", "\(result)")
        #expect(value(result.stdout, "rearmed") == "0", "\(result)")
    }
}
