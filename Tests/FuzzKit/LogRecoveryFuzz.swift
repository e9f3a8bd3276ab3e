import DaxLog
import DaxMap
import Glibc

/// DaxLog recovery (header choice, scan, record read) on mutated valid logs:
/// bit flips, boundary values in every header and record field (re-signed, so
/// they get past the checksums), records copied elsewhere, zeroed spans,
/// failed (poisoned) ranges, truncated and extended images. Checks: no crash,
/// no hang (the driver's alarm), no record returned that was not written (or
/// forged by the mutation itself), and recovery's own accounting. Most cases
/// run on memory; `slow` ones also through a real file, its device and mapping.
public final class LogRecoveryFuzz: FuzzTarget {
    public let name = "log-recovery"
    let seeds: [LogSeed]
    let scratch: String

    public init(scratch: String) throws {
        self.scratch = scratch
        seeds = try LogSeeds.make(scratch: scratch)
    }

    /// Values at the edges of every width: where arithmetic overflows.
    static let boundaries: [UInt64] = [0, 1, 2, 7, 8, 24, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 30, (1 << 30) + 1,
                                       UInt64(LogSeeds.size), UInt64(LogSeeds.size - 4096), UInt64(LogSeeds.size - 4096) - 8,
                                       (1 << 62) - 1, 1 << 62, (1 << 62) + 1, (1 << 63) - 1, 1 << 63, .max - 1, .max]

    /// What one case did to its seed.
    struct Mutation {
        var image: [UInt8]
        var failed: [(range: Range<Int>, removed: Bool)] = []
        /// Records the mutation re-signed: they may come back, as the mutation wrote them.
        var forged: [UInt64: [[UInt8]]] = [:]
        var steps: [String] = []
    }

    public func run(_ random: inout FuzzRandom, slow: Bool) -> String? {
        let seed = seeds[random.below(seeds.count)]
        var m = Mutation(image: seed.image)
        for _ in 0..<(1 + random.below(3)) { mutate(&m, seed, &random) }
        let result = m.image.withUnsafeBytes { DaxLogImage.recover($0, failed: m.failed) }
        if let problem = check(result, seed, m) { return "\(seed.name) [\(m.steps.joined(separator: "; "))]: \(problem)" }
        guard slow, m.image.count == seed.image.count, m.image.count % 4096 == 0 else { return nil }
        if let problem = throughAFile(m, seed, memory: m.failed.isEmpty ? result : nil, &random) {
            return "\(seed.name) [\(m.steps.joined(separator: "; "))] through a file: \(problem)"
        }
        return nil
    }

    // MARK: - Mutations

    private func mutate(_ m: inout Mutation, _ seed: LogSeed, _ random: inout FuzzRandom) {
        let size = m.image.count
        guard size >= 4096 else { return } // truncated to (almost) nothing: recovery refuses it as it is
        switch random.below(16) {
        case 0, 1, 2: // bit flips, mostly where the fields are
            let at = random.below(3) == 0 ? random.below(size) : fieldByte(seed, &random)
            guard at < size else { return }
            m.image[at] ^= UInt8(1) << UInt8(random.below(8))
            m.steps.append("flip byte \(at)")
        case 3, 4, 5: // a header field at a boundary, re-signed (mostly)
            let slot = DaxLogImage.slotOffsets[random.below(DaxLogImage.slotOffsets.count)]
            let field = DaxLogImage.headerFields[random.below(DaxLogImage.headerFields.count)]
            let value = boundary(&random)
            store(&m.image, value, at: slot + field.offset, width: field.width)
            let reseal = random.below(8) != 0 && field.name != "crc"
            if reseal { LogSeeds.resealHeader(&m.image, at: slot) }
            m.steps.append("header@\(slot) \(field.name)=\(value)\(reseal ? " resealed" : "")")
        case 6, 7, 8, 9: // a record field at a boundary, re-signed (mostly)
            let at = seed.recordStarts[random.below(seed.recordStarts.count)]
            let field = DaxLogImage.recordFields[random.below(DaxLogImage.recordFields.count)]
            var value = boundary(&random)
            if field.name == "sequence" && random.below(2) == 0 { value = UInt64(random.below(80)) }
            if field.name == "type" && random.below(2) == 0 { value = UInt64(random.below(5)) }
            guard at + field.offset + field.width <= size else { return }
            store(&m.image, value, at: at + field.offset, width: field.width)
            var reseal = random.below(6) != 0 && field.name != "crc"
            if reseal { reseal = LogSeeds.resealRecord(&m.image, at: at, generation: seed.generation) }
            if reseal { forge(&m, at: at) }
            m.steps.append("record@\(at) \(field.name)=\(value)\(reseal ? " resealed" : "")")
        case 10: // a record copied over another place (an earlier lap's record, a duplicate)
            let from = seed.recordStarts[random.below(seed.recordStarts.count)]
            guard from + 6 <= size else { return }
            let to = DaxLogImage.headerArea + 8 * random.below((size - DaxLogImage.headerArea) / 8)
            let n = min(LogSeeds.recordSize(Int(m.image[from + 4]) | Int(m.image[from + 5]) << 8), size - from, size - to)
            guard n > 0 else { return }
            m.image.replaceSubrange(to..<(to + n), with: Array(m.image[from..<(from + n)]))
            m.steps.append("copy \(from)+\(n) to \(to)")
        case 11: // a span zeroed (a torn or never-written store)
            let at = random.below(size), n = min(1 + random.below(512), size - at)
            m.image.replaceSubrange(at..<(at + n), with: [UInt8](repeating: 0, count: n))
            m.steps.append("zero \(at)+\(n)")
        case 12: // a failed range: poison, or (to the end) a truncated file
            let at = random.below(size) & ~63
            let removed = random.below(2) == 0
            let end = removed ? size : min(size, at + 64 * (1 + random.below(128)))
            m.failed.append((at..<end, removed))
            m.steps.append("\(removed ? "removed" : "poisoned") \(at)..<\(end)")
        case 13: // truncated
            let n = max(0, size - 8 * (1 + random.below(size / 8)))
            m.image.removeLast(size - n)
            m.steps.append("truncated to \(n)")
        case 14: // extended, with zeros or noise
            let n = 8 * (1 + random.below(1024)), noise = random.below(2) == 0
            m.image += (0..<n).map { _ in noise ? UInt8(truncatingIfNeeded: random.next()) : 0 }
            m.steps.append("extended by \(n)\(noise ? " noise" : "")")
        default: // random bytes over a record header
            let at = seed.recordStarts[random.below(seed.recordStarts.count)]
            for i in at..<max(at, min(size, at + DaxLogImage.recordHeaderSize)) where random.below(3) == 0 {
                m.image[i] = UInt8(truncatingIfNeeded: random.next())
            }
            m.steps.append("noise over record@\(at)")
        }
    }

    /// A byte of a header slot or record header.
    private func fieldByte(_ seed: LogSeed, _ random: inout FuzzRandom) -> Int {
        if random.below(4) == 0 {
            return DaxLogImage.slotOffsets[random.below(DaxLogImage.slotOffsets.count)] + random.below(DaxLogImage.headerChecksumOffset + 4)
        }
        return seed.recordStarts[random.below(seed.recordStarts.count)] + random.below(DaxLogImage.recordHeaderSize + 8)
    }

    private func boundary(_ random: inout FuzzRandom) -> UInt64 {
        switch random.below(4) {
        case 0: random.next()
        case 1: Self.boundaries[random.below(Self.boundaries.count)] &+ UInt64(bitPattern: Int64(random.below(17) - 8))
        default: Self.boundaries[random.below(Self.boundaries.count)]
        }
    }

    private func store(_ image: inout [UInt8], _ value: UInt64, at: Int, width: Int) {
        guard at >= 0, at + width <= image.count else { return }
        for i in 0..<width { image[at + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    /// The record a re-signed mutation made at `at`: it may be read back as written.
    private func forge(_ m: inout Mutation, at: Int) {
        m.image.withUnsafeBytes { b in
            guard at + DaxLogImage.recordHeaderSize <= b.count else { return }
            let length = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self)))
            let sequence = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: at + 8, as: UInt64.self))
            let start = at + DaxLogImage.recordHeaderSize
            guard start + length <= b.count else { return }
            m.forged[sequence, default: []].append(Array(b[start..<(start + length)]))
        }
    }

    // MARK: - Checks

    private func check(_ result: Result<(recovery: DaxLogRecovery, records: [DaxLogRecord]), DaxLogError>,
                       _ seed: LogSeed, _ m: Mutation) -> String? {
        guard case .success(let (recovery, records)) = result else { return nil } // a typed error is a fine answer
        _ = recovery.description // renders (lostCount included) without trapping
        guard recovery.firstSequence <= recovery.nextSequence else { return "first \(recovery.firstSequence) > next \(recovery.nextSequence)" }
        guard records.count <= recovery.recordCount else { return "\(records.count) records returned, \(recovery.recordCount) counted" }
        var previous: UInt64?
        for r in records {
            if let previous, r.sequence <= previous { return "record \(r.sequence) after \(previous)" }
            previous = r.sequence
            guard (recovery.firstSequence..<recovery.nextSequence).contains(r.sequence) else {
                return "record \(r.sequence) outside \(recovery.firstSequence)..<\(recovery.nextSequence)"
            }
            guard !recovery.lost.contains(where: { $0.contains(r.sequence) }) else { return "record \(r.sequence) returned and reported lost" }
            guard seed.written[r.sequence] == r.bytes || m.forged[r.sequence]?.contains(r.bytes) == true else {
                return "record \(r.sequence) (\(r.bytes.count) bytes) was never written"
            }
        }
        return nil
    }

    /// The same image through a file, its device and mapping: the same answer
    /// as from memory (when `memory` is given), or, with the file cut short
    /// under the mapping, the same checks.
    private func throughAFile(_ m: Mutation, _ seed: LogSeed, memory: Result<(recovery: DaxLogRecovery, records: [DaxLogRecord]), DaxLogError>?,
                              _ random: inout FuzzRandom) -> String? {
        let path = scratch + "/case"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "cannot create \(path)" }
        defer { close(fd); unlink(path) }
        guard pwrite(fd, m.image, m.image.count, 0) == m.image.count else { return "cannot write \(path)" }
        let cut = memory != nil && random.below(4) == 0 ? 4096 * random.below(m.image.count / 4096) : nil
        let device: DaxDevice
        do { device = try DaxDevice.open(path, options: .init(readOnly: true)) } catch { return "cannot open the device: \(error)" }
        defer { device.close() }
        // Cut under the device: reads past the end fault (SIGBUS), as a truncated DAX file does.
        if let cut, ftruncate(fd, off_t(cut)) != 0 { return "cannot truncate" }
        let result: Result<(recovery: DaxLogRecovery, records: [DaxLogRecord]), DaxLogError>
        do {
            let log = try DaxLog.open(device: device, length: UInt64(m.image.count), options: .init(creation: .never, readOnly: true))
            defer { log.close() }
            result = .success((log.recovery, try log.records()))
        } catch { result = .failure(error) }
        if let problem = check(result, seed, m) { return problem }
        guard cut == nil, let memory else { return nil }
        switch (memory, result) {
        case (.success(let a), .success(let b)):
            return a.recovery == b.recovery && a.records == b.records ? nil : "memory found \(a.recovery), the file \(b.recovery)"
        case (.failure(let a), .failure(let b)):
            return a.code == b.code ? nil : "memory: \(a), the file: \(b)"
        case (.success(let a), .failure(let b)): return "memory found \(a.recovery), the file threw \(b)"
        case (.failure(let a), .success(let b)): return "memory threw \(a), the file found \(b.recovery)"
        }
    }
}
