import DaxFuzzKit
import Testing

/// A short pass of `make fuzz`'s targets for the parsers of outside input in
/// DaxMap (the full run is a million cases each): uevent messages, `/proc/PID/maps`
/// lines, the injection sidecar (every 500th case through a real file), retire requests.
@Suite struct ParserFuzzTests {
    @Test func mutatedUEventsParseConsistentlyOrAreRefused() {
        let failures = runFuzz(UEventFuzz(), seed: 26, cases: 20000, slowEvery: 0)
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test func mutatedMapsLinesParseConsistentlyOrAreRefused() {
        let failures = runFuzz(MapsLineFuzz(), seed: 26, cases: 20000, slowEvery: 0)
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test func mutatedSidecarsParseConsistentlyOrAreRefused() {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let failures = runFuzz(SidecarFuzz(scratch: dir.path), seed: 26, cases: 20000, slowEvery: 500)
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test func mutatedRetireRequestsDecodeConsistentlyOrAreRefused() {
        let failures = runFuzz(RetireRequestFuzz(), seed: 26, cases: 20000, slowEvery: 0)
        #expect(failures.isEmpty, "\(failures)")
    }
}
