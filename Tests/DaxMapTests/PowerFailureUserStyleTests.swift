// A user's own power-failure test, written against the public API only, as the DocC
// article PowerFailureSimulation shows: a slot that must never read back half saved.
import DaxMap
import DaxMapTesting
import Glibc
import Testing

/// What a user writes: a value (its own cache line) and a valid flag. Saving
/// persists the value, then sets and persists the flag. `forgetful` forgets
/// the first persist: a bug no SIGKILL test sees (the page cache keeps every store).
private enum Slot {
    static func save(_ m: DaxMapping, _ value: UInt64, forgetful: Bool = false) throws {
        try withUnsafeBytes(of: value) { try m.write($0, at: 64, persist: !forgetful) }
        try withUnsafeBytes(of: UInt64(1)) { try m.write($0, at: 0, persist: true) }
    }

    static func load(_ m: DaxMapping) throws -> UInt64? {
        var flag: UInt64 = 0, value: UInt64 = 0
        try withUnsafeMutableBytes(of: &flag) { try m.read(at: 0, into: $0) }
        try withUnsafeMutableBytes(of: &value) { try m.read(at: 64, into: $0) }
        return flag == 1 ? value : nil
    }
}

/// Saves 42 with the power failing at `point` (or after the save), then
/// reads the slot back as the next boot would.
private func saveThenFailPower(at point: Int?, forgetful: Bool) async throws -> UInt64? {
    var template = Array("/tmp/daxmap user test XXXXXX".utf8CString) // a path with spaces
    let dir = String(cString: template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!)! })
    defer { _ = system("rm -rf '\(dir)'") }
    let path = dir + "/slot device"

    let options = DaxDevice.OpenOptions(simulation: .init(seed: 1, powerFailureAtPoint: point))
    let device = try DaxDevice.createEmulated(at: path, size: 1 << 16, options: options)
    let mapping = try device.map()
    try? Slot.save(mapping, 42, forgetful: forgetful)   // throws .deviceRemoved if the power fails in it
    await device.persistenceSimulator!.failPower()      // (if it has not yet)

    let after = try DaxDevice.open(path).map()
    return try Slot.load(after)
}

@Suite struct PowerFailureUserStyleTests {
    @Test func mySlotIsNeverHalfSaved() async throws {
        // Every point of one save in turn: each write is a store, a flush and a fence.
        for point in [nil] + (1...6).map(Optional.some) {
            let loaded = try await saveThenFailPower(at: point, forgetful: false)
            #expect(loaded == nil || loaded == 42, "power failure at point \(point.map(String.init) ?? "after the save")")
        }
        #expect(try await saveThenFailPower(at: nil, forgetful: false) == 42)
    }

    @Test func theSimulationCatchesAForgottenPersist() async throws {
        let loaded = try await saveThenFailPower(at: nil, forgetful: true)
        #expect(loaded == 0) // valid, but the value never reached the media: caught
    }
}
