import DaxFuzzKit
import Testing

/// A short pass of `make fuzz`'s `ackfile` target: mutated acknowledgement files
/// never crash `verify`'s parser, what it accepts keeps verify's rules (a record
/// per line, no log twice), and renders and parses back to itself.
@Suite struct AckFileFuzzTests {
    @Test func mutatedAcknowledgementFilesParseToWhatTheyRenderOrAreRefused() {
        let failures = runFuzz(AckFileFuzz(), seed: 26, cases: 20000, slowEvery: 0)
        #expect(failures.isEmpty, "\(failures)")
    }
}
