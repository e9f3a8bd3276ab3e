import Glibc
import Testing
@testable import DaxMap

/// The frictions an outside service met (issue 11): options at creation,
/// read-only raw access, how much a truncation took, documented buffering.
@Suite(.serialized) struct APIFrictionTests {
    @Test func createEmulatedTakesOpenOptionsAndTheOldCallStillWorks() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("a"), size: UInt64(4 * pageSize),
                                                  options: .init(removalDeadline: .milliseconds(250)))
        #expect(device.options.removalDeadline == .milliseconds(250))
        let plain = try DaxDevice.createEmulated(at: dir.file("b"), size: UInt64(4 * pageSize))
        #expect(plain.options.removalDeadline == DaxDevice.OpenOptions().removalDeadline)
        device.close()
        plain.close()
    }

    @Test func withUnsafeBytesReadsAReadOnlyMappingAndFollowsTheFaultPolicy() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let device = try DaxDevice.createEmulated(at: path, size: UInt64(16 * pageSize))
        let writer = try device.map()
        try [UInt8](repeating: 3, count: 16 * pageSize).withUnsafeBytes { try writer.write($0, at: 0) }
        let holder = RecordingHolder("reader")
        let reader = try device.map(holder: holder, options: .init(readOnly: true))
        holder.adopt(reader)
        let sum = reader.withUnsafeBytes { b in b.reduce(0) { $0 + Int($1) } }
        #expect(sum == 3 * 16 * pageSize)

        truncateFile(path, to: 8 * pageSize)
        // Unguarded: the fault policy (replacePages) gives zeros and records the page as lost.
        let value = reader.withUnsafeBytes { $0[10 * pageSize + 1] }
        #expect(value == 0)
        #expect(reader.lostRanges.contains(UInt64(10 * pageSize)..<UInt64(11 * pageSize)))
        #expect(reader.withUnsafeBytes { $0[pageSize] } == 3) // below the cut: intact
        let failure = await holder.waitFor(.removed)
        #expect(failure?.range == UInt64(8 * pageSize)..<UInt64(16 * pageSize))
        writer.close()
    }

    @Test func aTruncationErrorSaysHowManyBytesAreGone() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let device = try DaxDevice.createEmulated(at: path, size: UInt64(16 * pageSize))
        let holder = RecordingHolder("h")
        // A mapping of pages 4..<16: "to the end of the mapping" is device offset 16 pages.
        let mapping = try device.map(offset: UInt64(4 * pageSize), length: UInt64(12 * pageSize), holder: holder)
        holder.adopt(mapping)
        truncateFile(path, to: 8 * pageSize)
        var b = [UInt8](repeating: 0, count: 16)
        let at = 12 * pageSize + 100 // device offset
        let error = #expect(throws: DaxError.self) {
            try b.withUnsafeMutableBytes { try mapping.read(at: at - 4 * pageSize, into: $0) }
        }
        #expect(error?.code == .deviceRemoved)
        #expect(error?.offset == UInt64(at))
        #expect(error?.length == UInt64(16 * pageSize - at))
        #expect(error?.message.contains("\(16 * pageSize - at) bytes from there to the end of the mapping are gone") == true,
                "\(String(describing: error))")
        // Once the monitor marked the tail, the refusal names the whole gone range.
        _ = await holder.waitFor(.removed)
        let again = #expect(throws: DaxError.self) {
            try b.withUnsafeMutableBytes { try mapping.read(at: 6 * pageSize, into: $0) }
        }
        #expect(again?.offset == UInt64(8 * pageSize))
        #expect(again?.length == UInt64(8 * pageSize))
        // Unknown is unknown: a mapping offset below the cut has nothing gone.
        #expect(mapping.goneBytes(from: UInt64(5 * pageSize)) == nil)
        mapping.close()
    }

    @Test func aDeviceStreamKeepsTheNewest4096EventsAndFinishesOnClose() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: UInt64(4 * pageSize))
        let events = device.events()
        let published = 5000
        for i in 0..<published {
            device.publish(.fault(DaxFault(cause: .other, device: device.path, range: 0..<1, mappingID: UInt64(i),
                                           guarded: false, replaced: false, signal: SIGBUS, code: 0, addressLSB: 0, thread: 0)))
        }
        device.close()
        var ids: [UInt64] = []
        for await event in events { if case .fault(let f) = event { ids.append(f.mappingID) } }
        #expect(EventHub.buffered == 4096)
        #expect(ids.count == EventHub.buffered)
        #expect(ids.first == UInt64(published - EventHub.buffered)) // the oldest were dropped
        #expect(ids.last == UInt64(published - 1))
    }

    @Test func theEventStreamsDocumentTheirBufferAndEnd() {
        let root = ExampleTests.packageRoot + "/Sources/DaxMap/"
        let monitor = readFile(root + "Removal/DaxMonitor.swift"), device = readFile(root + "Device/DaxDevice.swift")
        #expect(EventHub.buffered == 4096, "the DocC comments say 4,096: update them with EventHub.buffered")
        #expect(monitor.contains("/// **Buffering**: the stream keeps the newest 4,096 events"))
        #expect(monitor.contains("**It never finishes**"))
        #expect(device.contains("/// **Buffering**: the stream keeps the newest 4,096 events"))
        #expect(device.contains("finishes when the\n    /// device is closed or gone"))
    }
}
