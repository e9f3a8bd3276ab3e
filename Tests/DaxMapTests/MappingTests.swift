import Glibc
import Testing
@testable import DaxMap
import DaxMapTesting

@Suite struct MappingTests {
    @Test func writePersistUnmapRemapReadsBack() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        do {
            let device = try DaxDevice.createEmulated(at: path, size: 4 << 20)
            let mapping = try device.map()
            #expect(mapping.count == 4 << 20)
            let text = Array("persistent hello".utf8)
            try text.withUnsafeBytes { try mapping.write($0, at: 12345) }
            let big = [UInt8](repeating: 0xA5, count: 70_000) // non-temporal path on DAX, msync here
            try big.withUnsafeBytes { try mapping.write($0, at: 1 << 20) }
            mapping.close()
            #expect(mapping.state == .closed)
            mapping.close() // idempotent
            device.close()
        }
        let again = try DaxDevice.open(path)
        let mapping = try again.map(offset: 0, length: 2 << 20)
        var back = [UInt8](repeating: 0, count: 16)
        try back.withUnsafeMutableBytes { try mapping.read(at: 12345, into: $0) }
        #expect(String(decoding: back, as: UTF8.self) == "persistent hello")
        var big = [UInt8](repeating: 0, count: 70_000)
        try big.withUnsafeMutableBytes { try mapping.read(at: 1 << 20, into: $0) }
        #expect(big.allSatisfy { $0 == 0xA5 })
    }

    @Test func closedMappingThrowsClosed() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 20)
        let mapping = try device.map()
        mapping.close()
        var b = [UInt8](repeating: 0, count: 8)
        let error = #expect(throws: DaxError.self) { try b.withUnsafeMutableBytes { try mapping.read(at: 0, into: $0) } }
        #expect(error?.code == .closed)
    }

    @Test func misalignedOffsetOrLengthIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 20)
        for (offset, length) in [(UInt64(100), UInt64(4096)), (0, 5000)] {
            let error = #expect(throws: DaxError.self) { try device.map(offset: offset, length: length) }
            #expect(error?.code == .misaligned)
            #expect(error?.offset == offset && error?.length == length)
            #expect(error?.message.contains("alignment \(pageSize)") == true)
        }
    }

    @Test func zeroLengthAndPastTheEndAreOutOfRange() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 20)
        let zero = #expect(throws: DaxError.self) { try device.map(offset: 0, length: 0) }
        #expect(zero?.code == .outOfRange)
        let past = #expect(throws: DaxError.self) { try device.map(offset: 512 << 10, length: 1 << 20) }
        #expect(past?.code == .outOfRange)
        #expect(past?.message.contains("past the end") == true)
        let atEnd = #expect(throws: DaxError.self) { try device.map(offset: 1 << 20) }
        #expect(atEnd?.code == .outOfRange)
    }

    @Test func accessOutsideTheMappingIsOutOfRange() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 20)
        let mapping = try device.map(offset: 0, length: 64 << 10)
        var b = [UInt8](repeating: 0, count: 16)
        let error = #expect(throws: DaxError.self) { try b.withUnsafeMutableBytes { try mapping.read(at: (64 << 10) - 8, into: $0) } }
        #expect(error?.code == .outOfRange)
        let negative = #expect(throws: DaxError.self) { try b.withUnsafeMutableBytes { try mapping.read(at: -1, into: $0) } }
        #expect(negative?.code == .outOfRange)
    }

    @Test func mappingIsRegisteredWithTheSignalHandlerUntilDeinit() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 20)
        // Asked by address, not by counting the table: other suites map and unmap
        // in this process at the same time.
        var mapping: DaxMapping? = try device.map()
        let id = mapping!.id
        let base = mapping!.withUnsafeMutableBytes { UnsafeRawPointer($0.baseAddress!) }
        let last = base + mapping!.count - 1
        #expect(DaxMapTestHooks.registeredMapping(at: base) == id)
        #expect(DaxMapTestHooks.registeredMapping(at: last) == id)
        #expect(DaxMapTestHooks.registeredMapping(at: last + 1) != id)
        mapping?.close()
        #expect(DaxMapTestHooks.registeredMapping(at: base) == id) // reservation still ours until deinit
        mapping = nil
        // Unregistered; the addresses may already be another suite's new mapping.
        #expect(DaxMapTestHooks.registeredMapping(at: base) != id)
    }

    @Test func fillAndPrefault() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 20)
        let mapping = try device.map(options: .init(prefault: true))
        try mapping.fill(0x5A, at: 4096, count: 10_000)
        try mapping.persistAll()
        let ok = mapping.withUnsafeMutableBytes { bytes in
            (4096..<14096).allSatisfy { bytes[$0] == 0x5A } && bytes[4095] == 0 && bytes[14096] == 0
        }
        #expect(ok)
    }
}
