import DaxMap
import Testing
@testable import DaxLog

/// The API a service asked for: batched appends from its own buffers or
/// into reserved space, one record by number, a lazy cursor, the tail offset
/// and the header size; and the records they write are the format's, byte for byte.
@Suite struct LogApiTests {
    static func openLog(_ dir: TemporaryDirectory, size: UInt64 = 4 << 20) throws -> (DaxLog, String) {
        let path = dir.file("dev")
        return (try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: size)), path)
    }

    @Test func recordsStoredFromBuffersAreTheFormatsEncodingByteForByte() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (log, path) = try Self.openLog(dir)
        // Every padding, and long records mixed with short ones (each checksum routine and its joins).
        let sizes = Array(0...17) + [255, 256, 300, 767, 768, 800, 2000, 5000, 12_289, 3, 9000, 9000, 9001]
        let records = sizes.enumerated().map { i, n in (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ i) } }
        let range = try log.append(contentsOf: records)
        let generation = log.core.withLock { $0.header.generation }
        var at = log.offset + UInt64(DaxLog.headerSize)
        for (i, r) in records.enumerated() {
            var expected = [UInt8](repeating: 0xEE, count: LogLayout.recordSize(r.count))
            expected.withUnsafeMutableBytes { out in
                r.withUnsafeBytes {
                    LogLayout.encode(type: LogLayout.typeData, sequence: range.lowerBound + UInt64(i), bytes: $0, generation: generation,
                                     batch: LogLayout.Batch(i, of: records.count), into: out)
                }
            }
            #expect(readBytes(path, at: Int(at), count: expected.count) == expected, "record \(i) of \(r.count) bytes")
            at += UInt64(expected.count)
        }
        #expect(log.tailOffset == at)
        log.close()
    }

    @Test func appendFromBuffersAndIntoReservedSpace() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (log, path) = try Self.openLog(dir)
        let parts: [[UInt8]] = [Array("alpha".utf8), [], Array("gamma, a longer one".utf8)]
        let first = try parts[0].withUnsafeBytes { a in
            try parts[1].withUnsafeBytes { b in try parts[2].withUnsafeBytes { c in try log.append(buffers: [a, b, c]) } }
        }
        #expect(first == 0..<3)
        // A collection without contiguous storage takes the other path.
        let lazy = try parts[2].withUnsafeBytes { c in try log.append(buffers: (0..<2).lazy.map { _ in c }) }
        #expect(lazy == 3..<5)
        let reserved = try log.append(sizes: [4, 0, 6]) { i, space in
            #expect(space.count == [4, 0, 6][i])
            for k in 0..<space.count { space[k] = UInt8(i * 10 + k) }
        }
        #expect(reserved == 5..<8)
        let all = try log.records()
        #expect(all.map(\.bytes) == parts + [parts[2], parts[2], [0, 1, 2, 3], [], [20, 21, 22, 23, 24, 25]])

        // Refusals: nothing appended, and the writer is not called.
        var called = false
        #expect(throws: DaxLogError.self) { try log.append(sizes: [1, log.maximumRecordSize + 1]) { _, _ in called = true } }
        #expect(throws: DaxLogError.self) { try log.append(sizes: [-1]) { _, _ in called = true } }
        #expect(!called)
        let empty = [UnsafeRawBufferPointer]()
        do { try log.append(buffers: empty); Issue.record("an empty batch was taken") } catch {
            #expect(error.code == .invalidArgument)
        }
        do { try log.append(sizes: [Int]()) { _, _ in }; Issue.record("an empty batch was taken") } catch {
            #expect(error.code == .invalidArgument)
        }
        #expect(log.nextSequence == 8)
        log.close()
        let again = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        #expect(try again.records().count == 8)
        again.close()
    }

    @Test func oneRecordByNumberAndNoSuchRecordWhenItIsNotThere() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (log, path) = try Self.openLog(dir)
        for i in 0..<10 { try log.append(payload(UInt64(i))) }
        #expect(try log.record(4) == DaxLogRecord(sequence: 4, bytes: payload(4)))
        #expect(try log.record(9).bytes == payload(9))
        func noSuchRecord(_ s: UInt64, _ why: String) {
            do { _ = try log.record(s); Issue.record("record \(s) returned") } catch {
                #expect(error.code == .noSuchRecord && error.sequence == s)
                #expect(error.message.contains(why), "\(error)")
            }
        }
        noSuchRecord(10, "not appended yet")
        noSuchRecord(.max, "not appended yet")
        try log.discard(upTo: 3)
        noSuchRecord(2, "discarded")
        // Record 6's bytes corrupted on the media: not returned as good, marked lost.
        let entry = try #require(log.core.withLock { c in c.entries.first { $0.sequence == 6 } })
        let at = Int(log.offset) + DaxLog.headerSize + Int(entry.position) + LogLayout.recordHeader
        patch(path, at: at, [0xFF ^ payload(6)[0]])
        noSuchRecord(6, "failed to read back")
        #expect(log.lostSequences == [6..<7])
        noSuchRecord(6, "lost")
        #expect(try log.record(7).bytes == payload(7))
        log.close()
        do { _ = try log.record(7); Issue.record("read a closed log") } catch { #expect(error.code == .closed) }
    }

    @Test func theCursorReadsOneRecordAtATimeAndSeesLaterAppends() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (log, _) = try Self.openLog(dir)
        for i in 0..<50 { try log.append(payload(UInt64(i))) }
        try log.discard(upTo: 5)
        var cursor = log.cursor(from: 2)
        var seen: [DaxLogRecord] = []
        while let r = try cursor.next() { seen.append(r) }
        #expect(seen == (try log.records(from: 2)))
        #expect(seen.first?.sequence == 5 && seen.count == 45)
        #expect(try cursor.next() == nil)
        try log.append(payload(50))
        #expect(try cursor.next() == DaxLogRecord(sequence: 50, bytes: payload(50)))
        #expect(cursor.position == 51)
        log.close()
        do { _ = try cursor.next(); Issue.record("read a closed log") } catch { #expect(error.code == .closed) }
    }

    @Test func tailOffsetAndHeaderSizeAreWhereTheRecordsAre() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let device = try DaxDevice.createEmulated(at: path, size: 1 << 20)
        // A log in the second half of the device: the offsets are device offsets.
        let log = try DaxLog.open(device: device, offset: 512 << 10, length: 512 << 10)
        #expect(log.headerSize == 4096 && DaxLog.headerSize == 4096)
        #expect(log.tailOffset == (512 << 10) + 4096)
        for i in 0..<40 {
            let tail = log.tailOffset
            let s = try log.append(payload(UInt64(i)))
            // The record's header is where tailOffset said: its sequence field is the number returned.
            let header = readBytes(path, at: Int(tail), count: LogLayout.recordHeader)
            let field = header[8..<16].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
            #expect(field == s)
            #expect(log.tailOffset == tail + UInt64(LogLayout.recordSize(payload(UInt64(i)).count)))
        }
        log.close()
    }
}
