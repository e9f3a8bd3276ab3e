import Glibc
import Testing
@testable import DaxMap
import DaxMapTesting

/// Typed access: guarded loads and stores of values, and checked typed views.
@Suite struct TypedAccessTests {
    struct Entry: BitwiseCopyable, Equatable {
        var key: UInt64
        var value: Double
    }

    @Test func valuesGoInAndComeBackTypedAtAnyAlignmentAndSurviveAReopen() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 16)
        let m = try device.map()
        try m.store(UInt64(0xDEAD_BEEF_F00D), at: 3)                // unaligned: a guarded copy
        try m.store(Entry(key: 7, value: 2.5), at: 64)
        #expect(try m.load(UInt64.self, at: 3) == 0xDEAD_BEEF_F00D)
        #expect(try m.load(Entry.self, at: 64) == Entry(key: 7, value: 2.5))

        let sum = try m.withUnsafeMutableBufferPointer(of: UInt32.self, at: 4096, count: 100) { values in
            for i in values.indices { values[i] = UInt32(i) }
            return values.reduce(0, +)
        }
        #expect(sum == 4950)
        try m.persist(at: 4096, count: 400)
        m.close()
        let again = try DaxDevice.open(dir.file("dev")).map()
        #expect(try again.withUnsafeBufferPointer(of: UInt32.self, at: 4096, count: 100) { Array($0) } == (0..<100).map(UInt32.init))
        #expect(try again.load(Entry.self, at: 64).key == 7)
    }

    @Test func aViewThatCannotBeHadIsATypedError() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 16)
        let m = try device.map()
        let cases: [(() throws -> Void, DaxError.Code)] = [
            ({ _ = try m.withUnsafeBufferPointer(of: UInt64.self, at: 4, count: 1) { $0.count } }, .misaligned),
            ({ _ = try m.withUnsafeBufferPointer(of: UInt64.self, at: 65536 - 8, count: 2) { $0.count } }, .outOfRange),
            ({ _ = try m.withUnsafeBufferPointer(of: UInt64.self, at: 0, count: Int.max / 4) { $0.count } }, .outOfRange),
            ({ _ = try m.withUnsafeBufferPointer(of: UInt64.self, at: 0, count: -1) { $0.count } }, .outOfRange),
            ({ _ = try m.withUnsafeBufferPointer(of: UInt64.self, at: -8, count: 1) { $0.count } }, .misaligned),
            ({ _ = try m.load(UInt64.self, at: 65536 - 4) }, .outOfRange),
            ({ try m.store(UInt64(1), at: Int.max) }, .outOfRange),
        ]
        for (attempt, code) in cases {
            #expect(throws: DaxError.self) { try attempt() }
            do { try attempt() } catch let e as DaxError { #expect(e.code == code, "\(e)") }
        }
        let readOnly = try DaxDevice.open(dir.file("dev"), options: .init(readOnly: true)).map()
        #expect { try readOnly.withUnsafeMutableBufferPointer(of: UInt8.self, at: 0, count: 1) { _ in } } throws: {
            ($0 as? DaxError)?.code == .permissionDenied
        }
        // A failure the mapping knows of (met once by a guarded read) refuses the view; a closed mapping too.
        try DaxFaultInjector(device).inject(.media, offset: UInt64(2 * pageSize))
        #expect { try m.load(UInt64.self, at: 2 * pageSize) } throws: { ($0 as? DaxError)?.code == .mediaFailure }
        #expect { try m.withUnsafeBufferPointer(of: UInt8.self, at: 2 * pageSize - 8, count: 16) { _ in } } throws: {
            ($0 as? DaxError)?.code == .mediaFailure
        }
        m.close()
        #expect { try m.load(UInt8.self, at: 0) } throws: { ($0 as? DaxError)?.code == .closed }
    }
}
