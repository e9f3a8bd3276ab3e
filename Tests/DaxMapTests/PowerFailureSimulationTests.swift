import Glibc
import DaxMapSync
import Testing
@testable import DaxMap
@testable import DaxMapTesting

/// The simulated persistence domain: what reaches the file, what a power failure loses.
@Suite struct PowerFailureSimulationTests {
    /// An emulated device of `size` bytes holding `fillByte` everywhere, opened with `simulation`.
    static func device(_ dir: TemporaryDirectory, size: Int = 64 << 10, fillByte: UInt8 = 0xAA,
                       _ simulation: DaxPersistenceSimulation) throws -> DaxDevice {
        let path = dir.file("sim.img")
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0)
        let bytes = [UInt8](repeating: fillByte, count: size)
        precondition(pwrite(fd, bytes, size, 0) == size)
        close(fd)
        return try DaxDevice.open(path, options: .init(simulation: simulation))
    }

    static func fileBytes(_ path: String, _ range: Range<Int>) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        precondition(fd >= 0)
        defer { close(fd) }
        var b = [UInt8](repeating: 0, count: range.count)
        precondition(pread(fd, &b, range.count, off_t(range.lowerBound)) == range.count)
        return b
    }

    static func write(_ m: DaxMapping, _ byte: UInt8, at offset: Int, count: Int, persist: Bool) throws {
        let bytes = [UInt8](repeating: byte, count: count)
        try bytes.withUnsafeBytes { try m.write($0, at: offset, persist: persist) }
    }

    @Test func persistedStoresSurviveThePowerFailureAndUnpersistedOnesDoNot() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try Self.device(dir, DaxPersistenceSimulation(seed: 1))
        #expect(device.granularity == .cacheLine && device.kind == .emulated)
        let holder = RecordingHolder("log")
        let m = try device.map(holder: holder)
        holder.adopt(m)
        try Self.write(m, 0x11, at: 0, count: 100, persist: true)
        try Self.write(m, 0x22, at: 4096, count: 100, persist: false)
        try m.fill(0x33, at: 8192, count: 100, persist: false)
        m.withUnsafeMutableBytes { raw in
            for i in 12288..<12388 { raw[i] = 0x44 }   // a raw store, never persisted
            for i in 16384..<16484 { raw[i] = 0x55 }   // a raw store, persisted below
        }
        try m.persist(at: 16384, count: 100)

        // The mapping shows every store (the cache); the file only what was persisted.
        var back = [UInt8](repeating: 0, count: 100)
        try back.withUnsafeMutableBytes { try m.read(at: 4096, into: $0) }
        #expect(back == [UInt8](repeating: 0x22, count: 100))
        #expect(Self.fileBytes(device.path, 0..<100) == [UInt8](repeating: 0x11, count: 100))
        #expect(Self.fileBytes(device.path, 4096..<4196) == [UInt8](repeating: 0xAA, count: 100))

        let simulator = try #require(device.persistenceSimulator)
        let failure = await simulator.failPower()
        #expect(failure.kind == .request && failure.seed == 1)
        #expect(failure.unitsLost == 4) // 2 lines of the write, 2 of the fill: raw stores are not tracked
        #expect(await simulator.failPower() == failure)

        // Gone as after a removal: revoked, holder told, guarded accesses refused.
        #expect(m.state == .revoked && device.lifecycle == .gone)
        let told = await holder.waitFor(.removed)
        #expect(told?.range == 0..<device.size)
        #expect(throws: DaxError.self) { try back.withUnsafeMutableBytes { try m.read(at: 0, into: $0) } }
        do {
            try Self.write(m, 0x66, at: 0, count: 10, persist: true)
            Issue.record("a write after the power failure succeeded")
        } catch let e as DaxError { #expect(e.code == .revoked || e.code == .deviceRemoved) }

        // The next open sees only what was persisted.
        let again = try device.reopen()
        let n = try again.map()
        func read(_ at: Int) throws -> [UInt8] {
            var b = [UInt8](repeating: 0, count: 100)
            try b.withUnsafeMutableBytes { try n.read(at: at, into: $0) }
            return b
        }
        #expect(try read(0) == [UInt8](repeating: 0x11, count: 100))
        #expect(try read(4096) == [UInt8](repeating: 0xAA, count: 100))
        #expect(try read(8192) == [UInt8](repeating: 0xAA, count: 100))
        #expect(try read(12288) == [UInt8](repeating: 0xAA, count: 100))
        #expect(try read(16384) == [UInt8](repeating: 0x55, count: 100))
    }

    @Test func aPersistWritesWholeUnitsAtTheDevicesGranularity() async throws {
        for granularity in [StoreGranularity.cacheLine, .page] {
            let dir = TemporaryDirectory()
            defer { dir.remove() }
            let device = try Self.device(dir, DaxPersistenceSimulation(granularity: granularity, seed: 2))
            #expect(device.granularity == granularity)
            let unit = granularity == .page ? pageSize : 64
            let m = try device.map()
            try Self.write(m, 0x77, at: 0, count: 3 * unit, persist: false)
            try m.persist(at: unit + 1, count: 1) // one byte of the second unit
            await device.persistenceSimulator?.failPower()
            #expect(Self.fileBytes(device.path, 0..<unit) == [UInt8](repeating: 0xAA, count: unit), "\(granularity)")
            #expect(Self.fileBytes(device.path, unit..<(2 * unit)) == [UInt8](repeating: 0x77, count: unit), "\(granularity)")
            #expect(Self.fileBytes(device.path, (2 * unit)..<(3 * unit)) == [UInt8](repeating: 0xAA, count: unit), "\(granularity)")
        }
    }

    @Test func evictionWritesOnlyWholeLinesAsTheCacheHeldThem() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try Self.device(dir, size: 16 << 10, DaxPersistenceSimulation(seed: 3, evictionProbability: 0.5))
        let m = try device.map()
        // Unaligned on purpose: the first and last lines mix old and new bytes.
        try Self.write(m, 0x5A, at: 30, count: 4000, persist: false)
        let cache = m.withUnsafeBytes { Array($0[0..<4096]) }
        let simulator = try #require(device.persistenceSimulator)
        let evicted = simulator.unitsEvicted
        #expect(evicted > 10 && evicted < 63) // at most one per store point, from the dirty lines
        let failure = await simulator.failPower()
        #expect(failure.unitsEvicted == evicted && failure.unitsLost == 63 - evicted)
        let media = Self.fileBytes(device.path, 0..<4096)
        var whole = 0
        for line in 0..<64 {
            let r = (line * 64)..<(line * 64 + 64)
            let onMedia = Array(media[r]), inCache = Array(cache[r]), old = [UInt8](repeating: 0xAA, count: 64)
            #expect(onMedia == inCache || onMedia == old, "line \(line) is torn")
            if onMedia == inCache && inCache != old { whole += 1 }
        }
        #expect(whole == evicted)
    }

    /// A seeded run of writes, persists and evictions, cut at point 150.
    static func seededRun(_ seed: UInt64) async throws -> ([UInt8], DaxPowerFailure?) {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try Self.device(dir, size: 32 << 10,
                                     DaxPersistenceSimulation(seed: seed, evictionProbability: 0.3, powerFailureAtPoint: 150))
        let m = try device.map()
        var random = SeededRandom(seed: seed)
        for i in 0..<400 {
            let offset = Int(random.next() % 30000), count = 1 + Int(random.next() % 700)
            do { try Self.write(m, UInt8(i % 251), at: offset, count: count, persist: random.next() % 3 == 0) } catch { break }
        }
        _ = await device.beginRemoval() // waits for the removal the power failure started
        var failure = device.persistenceSimulator?.powerFailure
        failure?.device = "" // each run has its own folder
        return (Self.fileBytes(device.path, 0..<(32 << 10)), failure)
    }

    @Test func theSameSeedReplaysTheSameOutcome() async throws {
        let (a, fa) = try await Self.seededRun(7)
        let (b, fb) = try await Self.seededRun(7)
        let (c, fc) = try await Self.seededRun(8)
        #expect(fa != nil && fa?.point == 150)
        #expect(a == b && fa == fb)
        #expect(fa?.unitsEvicted ?? 0 > 0)
        #expect(a != c && fc?.seed == 8)
    }

    @Test func thePowerFailsAtTheScheduledStoreOrFlushPoint() async throws {
        // Points of a 4-line write then its persist: stores 1-4, flushes 5-8, fence 9.
        for (cut, expected) in [(3, DaxPowerFailure.Point.store), (7, .flush), (9, .fence)] {
            let dir = TemporaryDirectory()
            defer { dir.remove() }
            let device = try Self.device(dir, DaxPersistenceSimulation(seed: 4, powerFailureAtPoint: cut))
            let m = try device.map()
            var thrown: DaxError?
            do { try Self.write(m, 0x42, at: 0, count: 256, persist: true) } catch let e as DaxError { thrown = e }
            #expect(thrown?.code == .deviceRemoved, "cut at \(cut)")
            #expect(thrown?.message.contains("power failed") == true)
            let failure = try #require(device.persistenceSimulator?.powerFailure)
            #expect(failure.point == cut && failure.kind == expected)
            _ = await device.beginRemoval()
            let lines = (0..<4).map { Self.fileBytes(device.path, ($0 * 64)..<($0 * 64 + 64)) == [UInt8](repeating: 0x42, count: 64) }
            switch expected {
            case .store: #expect(lines == [false, false, false, false])
            case .flush: #expect(lines == [true, true, false, false]) // flushes 5 and 6 happened
            default: #expect(lines == [true, true, true, true])       // on the media, not acknowledged
            }
        }
    }

    @Test func aSkippedPersistIsLostWhileTheOthersSurvive() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try Self.device(dir, DaxPersistenceSimulation(seed: 5, skipPersistEvery: 2))
        let m = try device.map()
        for i in 0..<4 { try Self.write(m, UInt8(i + 1), at: i * 4096, count: 64, persist: true) }
        let failure = try #require(await device.persistenceSimulator?.failPower())
        #expect(failure.persistsSkipped == 2)
        let survived = (0..<4).map { Self.fileBytes(device.path, ($0 * 4096)..<($0 * 4096 + 64)) == [UInt8](repeating: UInt8($0 + 1), count: 64) }
        #expect(survived == [true, false, true, false])
    }

    @Test func writesPersistedByEveryThreadSurviveAndAMappingAtAnOffsetWritesThere() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try Self.device(dir, size: 256 << 10, DaxPersistenceSimulation(seed: 6, evictionProbability: 0.2,
                                                                                    powerFailureAtPoint: 3000))
        // Eight threads, each its own mapping of its own 32 KiB, appending 100-byte records until the power fails.
        let acknowledged = Locked<[Int: Int]>([:])
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    guard let m = try? device.map(offset: UInt64(t * 32768), length: 32768) else { return }
                    for i in 0..<300 {
                        do { try Self.write(m, UInt8(1 + i % 250), at: i * 100, count: 100, persist: true) } catch { return }
                        acknowledged.withLock { $0[t] = i + 1 }
                    }
                }
            }
        }
        let failure = try #require(device.persistenceSimulator?.powerFailure)
        #expect(failure.point == 3000)
        _ = await device.beginRemoval()
        let counts = acknowledged.withLock { $0 }
        #expect(counts.values.reduce(0, +) > 50)
        for (t, n) in counts {
            for i in 0..<n {
                let at = t * 32768 + i * 100
                #expect(Self.fileBytes(device.path, at..<(at + 100)) == [UInt8](repeating: UInt8(1 + i % 250), count: 100),
                        "thread \(t) record \(i) was acknowledged but is not on the media")
            }
        }
    }

    @Test func anInjectedMediaFailureMeetsASimulatedDevice() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try Self.device(dir, DaxPersistenceSimulation(seed: 10))
        let m = try device.map()
        try DaxFaultInjector(device).inject(.media, offset: UInt64(2 * pageSize))
        #expect { try Self.write(m, 1, at: 2 * pageSize + 8, count: 8, persist: true) } throws: {
            ($0 as? DaxError)?.code == .mediaFailure
        }
        try Self.write(m, 2, at: 0, count: 8, persist: true) // elsewhere the device works
        #expect(Self.fileBytes(device.path, 0..<8) == [UInt8](repeating: 2, count: 8))
    }

    @Test func aSparseTerabyteFileIsSimulatedWithoutReadingItsHoles() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("sparse.img")
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        #expect(ftruncate(fd, off_t(1) << 40) == 0)
        #expect(pwrite(fd, [UInt8](repeating: 7, count: 4096), 4096, off_t(1) << 39) == 4096) // data in the middle
        close(fd)
        // Reading the holes too would fill a terabyte of memory: this test would not finish.
        let device = try DaxDevice.open(path, options: .init(simulation: .init(seed: 12)))
        let m = try device.map(offset: UInt64(1) << 39, length: 1 << 16)
        var back = [UInt8](repeating: 0, count: 8)
        try back.withUnsafeMutableBytes { try m.read(at: 0, into: $0) }
        #expect(back == [UInt8](repeating: 7, count: 8)) // the data region was read into the cache
        try Self.write(m, 9, at: 8192, count: 64, persist: true)
        await device.persistenceSimulator?.failPower()
        #expect(Self.fileBytes(path, ((1 << 39) + 8192)..<((1 << 39) + 8256)) == [UInt8](repeating: 9, count: 64))
    }

    @Test func whatCannotBeSimulatedIsRefusedWithTheReason() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("plain.img")
        _ = try DaxDevice.createEmulated(at: path, size: 1 << 16)
        let cases: [(DaxDevice.OpenOptions, String)] = [
            (.init(simulation: .init(granularity: .byte)), "byte"),
            (.init(simulation: .init(evictionProbability: 1.5)), "eviction probability"),
            (.init(simulation: .init(evictionProbability: .nan)), "eviction probability"),
            (.init(simulation: .init(powerFailureAtPoint: 0)), "point must be 1 or more"),
            (.init(simulation: .init(skipPersistEvery: 0)), "skipPersistEvery"),
            (.init(requiredGranularity: .cacheLine, simulation: .init(granularity: .page)), "coarser"),
        ]
        for (options, why) in cases {
            #expect { try DaxDevice.open(path, options: options) } throws: { error in
                let e = error as? DaxError
                return e?.code == .invalidArgument && e?.message.contains(why) == true && e?.path == path
            }
        }
        let empty = dir.file("empty.img")
        close(open(empty, O_RDWR | O_CREAT, 0o644))
        #expect { try DaxDevice.open(empty, options: .init(simulation: .init())) } throws: {
            ($0 as? DaxError)?.code == .invalidArgument
        }
        #expect { try DaxDevice.open("/dev/null", options: .init(simulation: .init())) } throws: {
            ($0 as? DaxError)?.code == .notADaxDevice
        }
        let device = try DaxDevice.open(path, options: .init(simulation: .init(seed: 9)))
        let m = try device.map()
        try Self.write(m, 1, at: 0, count: 64, persist: false) // point 1
        #expect { try device.persistenceSimulator?.schedulePowerFailure(atPoint: 1) } throws: {
            ($0 as? DaxError)?.code == .invalidArgument
        }
        #expect(device.persistenceSimulator?.seed == 9)
        #expect(Self.fileBytes(path, 0..<64) == [UInt8](repeating: 0, count: 64)) // the file is untouched
    }
}
