import DaxFuzzKit
import Testing

/// A short pass of `make fuzz`'s `json` target: mutated JSON never crashes the
/// parser or the retire answer decoder, the limits hold, and whatever parses
/// renders and parses back to itself.
@Suite struct JSONFuzzTests {
    @Test func mutatedJSONParsesToWhatItRendersOrIsRefused() {
        let failures = runFuzz(JSONFuzz(), seed: 24, cases: 20000, slowEvery: 0)
        #expect(failures.isEmpty, "\(failures)")
    }
}
