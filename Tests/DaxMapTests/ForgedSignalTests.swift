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
}
