import CDaxMap
import Glibc
import Testing
@testable import DaxMap
import DaxMapTesting

/// Parallel writes and fills: exact at every length class and alignment, and a
/// fault in any part reported as in a single-threaded copy.
@Suite struct ParallelCopyTests {
    static let part = DaxMapping.parallelMinimumPart

    @Test func everyLengthAndOffsetLandsExactlyWithTheSentinelsUntouched() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let size = 24 << 20
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: UInt64(size))
        let m = try device.map()
        let source = (0..<(20 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
        let filled = [UInt8](repeating: 0x3C, count: 20 << 20)
        var wrong: [String] = []
        for n in [2 * Self.part - 1, 2 * Self.part + 1, (1 << 20) + 17, (8 << 20) + 3, 20 << 20] {
            for offset in [0, 1, 4096 + 8] where offset + n + 64 <= size {
                for threads in [2, 3, 16] {
                    try m.fill(0xEE, at: 0, count: offset + n + 64, persist: false)
                    try source.withUnsafeBytes {
                        try m.write(UnsafeRawBufferPointer(rebasing: $0[0..<n]), at: offset, persist: true, parallelism: threads)
                    }
                    func lands(_ expected: [UInt8]) -> Bool {
                        m.withUnsafeBytes { mapped in
                            expected.withUnsafeBytes { memcmp(mapped.baseAddress! + offset, $0.baseAddress!, n) == 0 }
                                && (0..<min(offset, 64)).allSatisfy { mapped[offset - 1 - $0] == 0xEE }
                                && (0..<64).allSatisfy { mapped[offset + n + $0] == 0xEE }
                        }
                    }
                    if !lands(source) { wrong.append("write n=\(n) offset=\(offset) threads=\(threads)") }
                    try m.fill(0x3C, at: offset, count: n, persist: true, parallelism: threads)
                    if !lands(filled) { wrong.append("fill n=\(n) offset=\(offset) threads=\(threads)") }
                }
            }
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(5))")
        // Persisted: a fresh mapping of the file reads the last fill.
        let again = try DaxDevice.open(dir.file("dev")).map(length: 1 << 20)
        #expect(again.withUnsafeBytes { $0[4096 + 8] } == 0x3C)
    }

    /// A 16 MiB device whose file is cut to `edge`: parts past it meet a real BUS_ADRERR.
    static func truncated(_ dir: TemporaryDirectory, edge: Int) throws -> (DaxDevice, DaxMapping, RecordingHolder) {
        let path = dir.file("dev")
        let device = try DaxDevice.createEmulated(at: path, size: 16 << 20)
        let holder = RecordingHolder("h")
        let m = try device.map(holder: holder)
        holder.adopt(m)
        try m.fill(0x5A, at: 0, count: m.count)
        truncateFile(path, to: edge)
        return (device, m, holder)
    }

    @Test(arguments: [12 << 20, 4 << 20, 8 << 20 + 4096 * 3])
    func aFaultInAnyPartIsTheFirstFailingByteAndTheHolderIsTold(edge: Int) async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (_, m, holder) = try Self.truncated(dir, edge: edge)
        let source = [UInt8](repeating: 0x11, count: 16 << 20)
        for threads in [2, 4, 8] {
            var thrown: DaxError?
            do {
                try source.withUnsafeBytes { try m.write($0, at: 0, persist: false, parallelism: threads) }
            } catch let e as DaxError { thrown = e }
            #expect(thrown?.code == .deviceRemoved && thrown?.offset == UInt64(edge), "threads \(threads): \(String(describing: thrown))")
            do {
                try m.fill(0x22, at: 0, count: 16 << 20, persist: false, parallelism: threads)
                Issue.record("a fill across the cut succeeded")
            } catch { #expect(error.code == .deviceRemoved && error.offset == UInt64(edge), "fill, threads \(threads): \(error)") }
        }
        // The write's part before the cut was written whole; the fill was refused
        // before it stored anything (the mapping knows the cut by then).
        #expect(m.withUnsafeBytes { $0[edge - 1] } == 0x11 && m.withUnsafeBytes { $0[0] } == 0x11)
        let told = await holder.waitFor(.removed)
        #expect(told?.range.lowerBound == UInt64(edge), "\(String(describing: told))")
    }

    @Test func ofTwoFaultingPartsTheLowerFailingByteIsReported() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 16 << 20)
        let m = try device.map()
        let injector = try DaxFaultInjector(device)
        try injector.inject(.media, offset: UInt64(13 << 20))          // in the last part of four
        try injector.inject(.media, offset: UInt64((6 << 20) + 8192))  // in the second
        let source = [UInt8](repeating: 0x33, count: 16 << 20)
        do {
            try source.withUnsafeBytes { try m.write($0, at: 0, parallelism: 4) }
            Issue.record("a write over two failed pages succeeded")
        } catch let e as DaxError {
            #expect(e.code == .mediaFailure && e.offset == UInt64((6 << 20) + 8192), "\(e)")
        }
    }

    @Test func smallOrSimulatedOrSingleThreadedWritesTakeTheOrdinaryPathAndBadParallelismIsRefused() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 4 << 20)
        let m = try device.map()
        #expect { try [UInt8](repeating: 1, count: 8).withUnsafeBytes { try m.write($0, at: 0, parallelism: 0) } } throws: {
            ($0 as? DaxError)?.code == .invalidArgument
        }
        #expect { try m.fill(1, at: 0, count: 8, parallelism: -3) } throws: { ($0 as? DaxError)?.code == .invalidArgument }
        try m.fill(7, at: 100, count: 1000, parallelism: 8) // too small to split
        #expect(m.withUnsafeBytes { $0[1099] } == 7)
        #expect { try m.fill(1, at: (4 << 20) - 8, count: 16, parallelism: 4) } throws: { ($0 as? DaxError)?.code == .outOfRange }

        let sim = try DaxDevice.createEmulated(at: dir.file("sim"), size: 4 << 20,
                                               options: .init(simulation: .init(seed: 1)))
        let s = try sim.map()
        try s.fill(9, at: 0, count: 2 << 20, persist: true, parallelism: 4) // the simulation's ordered points
        await sim.persistenceSimulator?.failPower()
        #expect(try DaxDevice.open(dir.file("sim")).map().withUnsafeBytes { $0[(2 << 20) - 1] } == 9)
    }
}
