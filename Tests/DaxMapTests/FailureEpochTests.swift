import Glibc
import Testing
@testable import DaxMap
import DaxMapTesting

/// A failure is observed in an epoch (the newest mapping id issued then) and
/// concerns only the mappings that existed: memory mapped afterwards over the
/// same offsets is not told it, however late the monitor drains the record.
@Suite struct FailureEpochTests {
    @Test func aFaultDrainedAfterANewerMappingOfItsRangeIsNotToldToIt() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: UInt64(16 * pageSize))
        let device = try DaxDevice.open(path)
        let holder = RecordingHolder("holder")
        let old = try device.map(holder: holder)
        DaxMapTestHooks.pauseDrains()
        // The memory from page 8 on goes (a real BUS_ADRERR, held in the ring)...
        truncateFile(path, to: 8 * pageSize)
        let byte: [UInt8] = [1]
        let error = #expect(throws: DaxError.self) { try byte.withUnsafeBytes { try old.write($0, at: 12 * pageSize) } }
        #expect(error?.code == .deviceRemoved)
        // ...and comes back; the holder maps it again before the record is drained.
        truncateFile(path, to: 16 * pageSize)
        let new = try device.map(holder: holder)
        DaxMapTestHooks.resumeDrains()

        let told = try #require(await holder.waitFor(.removed))
        #expect(told.range.lowerBound >= UInt64(8 * pageSize) && told.range.upperBound == UInt64(16 * pageSize), "\(told)")
        #expect(told.mappings.map(\.id) == [old.id], "told about mappings \(told.mappings.map(\.id)); \(new.id) was made after the fault")
        #expect(told.concerns(old) && !told.concerns(new))
        #expect(told.epoch >= old.id && told.epoch < new.id)
        try byte.withUnsafeBytes { try new.write($0, at: 12 * pageSize) }
        withExtendedLifetime((old, new)) {}
    }

    @Test func aFailureMadeByHandIsOfItsMomentAndMappingIdsRise() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: UInt64(4 * pageSize))
        let first = try device.map()
        let failure = DaxFailure(device: device.path, range: 0..<UInt64(pageSize), kind: .memoryFailureActionOptional)
        let second = try device.map()
        #expect(second.id > first.id)
        #expect(failure.concerns(first) && !failure.concerns(second))
        let later = DaxFailure(device: device.path, range: UInt64(pageSize)..<UInt64(2 * pageSize), kind: .removed, epoch: second.id)
        #expect(later.concerns(first) && later.concerns(second))
    }
}
