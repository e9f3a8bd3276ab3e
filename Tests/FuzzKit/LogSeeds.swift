import CDaxLog
import DaxLog
import DaxMap
import Glibc

/// A valid log image, made by DaxLog itself, and every record written to it.
struct LogSeed {
    var name: String
    var image: [UInt8]
    /// Sequence number -> payload of every record ever appended (discarded ones too).
    var written: [UInt64: [UInt8]]
    /// Image offsets of the checksum-valid record headers (data, pad, gap).
    var recordStarts: [Int]
    var generation: UInt64
}

enum LogSeeds {
    /// The region of every seed: a 4 KiB header area and 12 KiB of records, so a
    /// few dozen appends wrap around.
    static let size = 16384

    static func payload(_ s: UInt64) -> [UInt8] {
        (0..<(1 + Int(s &* 37 % 200))).map { UInt8(truncatingIfNeeded: s &* 31 &+ UInt64($0)) }
    }

    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    static func make(scratch: String) throws -> [LogSeed] {
        var seeds: [LogSeed] = []
        // Straight: single appends, then a batch.
        seeds.append(try build(scratch, "straight") { log, written in
            for s in 0..<40 as Range<UInt64> { written[try log.append(payload(s))] = payload(s) }
            let batch = (40..<45 as Range<UInt64>).map(payload)
            for (s, p) in zip(try log.append(contentsOf: batch), batch) { written[s] = p }
        })
        // Wrapped: checkpoints move the head; records go round the end (pads).
        seeds.append(try build(scratch, "wrapped", wrapAround))
        // A gap: numbers lost before a reattach, said so on the media, records after it.
        var gap = seeds[0]
        gap.name = "gap"
        let next: UInt64 = 45
        var at = gap.recordStarts.last! + recordSize(payload(44).count)
        append(&gap, at: &at, type: 3, sequence: next, payload: withUnsafeBytes(of: (next + 7).littleEndian) { Array($0) })
        for s in (next + 7)..<(next + 10) {
            append(&gap, at: &at, type: 1, sequence: s, payload: payload(s))
            gap.written[s] = payload(s)
        }
        seeds.append(gap)
        return seeds
    }

    /// Appends until the log is full, discards all but 20 records, and so on
    /// round the end of the data area (pads) a few times.
    private static func wrapAround(_ log: DaxLog, _ written: inout [UInt64: [UInt8]]) throws {
        var s: UInt64 = 0
        for _ in 0..<150 {
            let r: Result<UInt64, DaxLogError> = Result { () throws(DaxLogError) -> UInt64 in try log.append(payload(s)) }
            switch r {
            case .success(let sequence):
                written[sequence] = payload(s)
                s += 1
            case .failure(let e):
                guard e.code == .full else { throw e }
                try log.discard(upTo: log.nextSequence - 20)
            }
        }
    }

    static func recordSize(_ n: Int) -> Int { (DaxLogImage.recordHeaderSize + n + 7) & ~7 }

    /// Encodes a record at image offset `at` (as DaxLog does) and moves past it.
    static func append(_ seed: inout LogSeed, at: inout Int, type: UInt32, sequence: UInt64, payload: [UInt8]) {
        let size = recordSize(payload.count)
        var r = [UInt8](repeating: 0, count: size)
        r.withUnsafeMutableBytes { b in
            b.storeBytes(of: UInt32(payload.count).littleEndian, toByteOffset: 4, as: UInt32.self)
            b.storeBytes(of: sequence.littleEndian, toByteOffset: 8, as: UInt64.self)
            b.storeBytes(of: type.littleEndian, toByteOffset: 16, as: UInt32.self)
        }
        r.replaceSubrange(DaxLogImage.recordHeaderSize..<(DaxLogImage.recordHeaderSize + payload.count), with: payload)
        seed.image.replaceSubrange(at..<(at + size), with: r)
        resealRecord(&seed.image, at: at, generation: seed.generation)
        seed.recordStarts.append(at)
        at += size
    }

    /// Recomputes the checksum of the record at `at` (its length field says how long it is); false if it does not fit.
    @discardableResult
    static func resealRecord(_ image: inout [UInt8], at: Int, generation: UInt64) -> Bool {
        image.withUnsafeMutableBytes { b in
            guard at >= 0, at + DaxLogImage.recordHeaderSize <= b.count else { return false }
            let length = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self)))
            guard length <= b.count else { return false }
            let end = at + recordSize(length)
            guard end <= b.count else { return false }
            let crc = cdaxlog_crc32c(DaxLogImage.recordSeed(generation), b.baseAddress! + at + 4, end - at - 4)
            b.storeBytes(of: crc.littleEndian, toByteOffset: at, as: UInt32.self)
            return true
        }
    }

    /// Recomputes the checksum of the header slot at `at`.
    static func resealHeader(_ image: inout [UInt8], at: Int) {
        image.withUnsafeMutableBytes { b in
            guard at + DaxLogImage.headerChecksumOffset + 4 <= b.count else { return } // truncated away
            let crc = cdaxlog_crc32c(0, b.baseAddress! + at, DaxLogImage.headerChecksumOffset)
            b.storeBytes(of: crc.littleEndian, toByteOffset: at + DaxLogImage.headerChecksumOffset, as: UInt32.self)
        }
    }

    private static func build(_ scratch: String, _ name: String, _ body: (DaxLog, inout [UInt64: [UInt8]]) throws -> Void) throws -> LogSeed {
        let path = scratch + "/seed-" + name
        defer { unlink(path) }
        let device = try DaxDevice.createEmulated(at: path, size: UInt64(size))
        defer { device.close() }
        let log = try DaxLog.open(device: device, options: .init(creation: .overwrite))
        var written: [UInt64: [UInt8]] = [:]
        try body(log, &written)
        log.close()
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SetupError(description: "cannot read back \(path)") }
        defer { close(fd) }
        var image = [UInt8](repeating: 0, count: size)
        guard pread(fd, &image, size, 0) == size else { throw SetupError(description: "short read of \(path)") }
        // The generation: from the header with the higher epoch.
        let headers = DaxLogImage.slotOffsets.map { at in
            image.withUnsafeBytes { (epoch: $0.loadUnaligned(fromByteOffset: at + 24, as: UInt64.self),
                                     generation: $0.loadUnaligned(fromByteOffset: at + 16, as: UInt64.self)) }
        }
        let generation = UInt64(littleEndian: headers.max { UInt64(littleEndian: $0.epoch) < UInt64(littleEndian: $1.epoch) }!.generation)
        var starts: [Int] = []
        for at in stride(from: DaxLogImage.headerArea, to: size - DaxLogImage.recordHeaderSize, by: 8) {
            var copy = Array(image[at..<min(size, at + 256 + DaxLogImage.recordHeaderSize)])
            let original = copy.prefix(4)
            if resealRecord(&copy, at: 0, generation: generation), copy.prefix(4) == original,
               image[at + 4] != 0 || image[at + 5] != 0 || image[at + 16] != 0 {
                starts.append(at)
            }
        }
        guard !starts.isEmpty else { throw SetupError(description: "seed \(name) has no records") }
        return LogSeed(name: name, image: image, written: written, recordStarts: starts, generation: generation)
    }
}
