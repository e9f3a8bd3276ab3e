import DaxFuzzKit
import Testing

/// A short pass of `make fuzz` (which runs 1,000,000 cases): mutated logs never
/// crash recovery nor return a record that was not written; some go through a file.
@Suite struct LogFuzzTests {
    @Test func recoveryOfMutatedLogsReturnsOnlyWrittenRecords() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let target = try LogRecoveryFuzz(scratch: dir.path)
        let failures = runFuzz(target, seed: 23, cases: 4000, slowEvery: 100)
        #expect(failures.isEmpty, "\(failures)")
    }
}
