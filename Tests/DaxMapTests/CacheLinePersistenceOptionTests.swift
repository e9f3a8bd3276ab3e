import Glibc
import Testing
@testable import DaxMap
import DaxMapTesting

/// The benchmarking-only cache-line mode of an emulated device
/// (`OpenOptions.unsafeCacheLinePersistence`, libpmem's PMEM_IS_PMEM_FORCE=1):
/// flush and fence, never `msync`; off by default; refused where it means something else.
@Suite struct CacheLinePersistenceOptionTests {
    /// Whether the mapping's persist is `msync` (the page strategy), or the CPU's flush and fence.
    private func persistsByMsync(_ mapping: DaxMapping) -> Bool {
        if case .pages = mapping.persistence { return true }
        return false
    }

    @Test func offByDefaultAnEmulatedDevicePersistsByMsync() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        #expect(DaxDevice.OpenOptions().unsafeCacheLinePersistence == false)
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 16)
        #expect(device.granularity == .page)
        let mapping = try device.map()
        #expect(persistsByMsync(mapping))
    }

    @Test func theOptionFlushesAndFencesWithoutMsync() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 16,
                                                  options: .init(unsafeCacheLinePersistence: true))
        #expect(device.kind == .emulated)
        #expect(device.granularity == .cacheLine)
        let mapping = try device.map()
        #expect(mapping.granularity == .cacheLine)
        // The strategy the mapping holds has no msync in it: the hardware one, with a flush instruction.
        guard case .hardware(let strategy) = mapping.persistence else {
            Issue.record("the mapping persists by \(mapping.persistence), not by flush and fence")
            return
        }
        #expect(strategy.flushKind == Persistence.flushKind)
        #expect(Persistence.flushName != "none")
        // Stores, both ordinary (flushed) and non-temporal (fenced), land and read back.
        for count in [100, 64 << 10 - 64] {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ count) }
            try bytes.withUnsafeBytes { try mapping.write($0, at: 32) }
            var back = [UInt8](repeating: 0, count: count)
            try back.withUnsafeMutableBytes { try mapping.read(at: 32, into: $0) }
            #expect(back == bytes)
        }
        try mapping.persist(at: 0, count: 4096)
    }

    @Test func requiredCacheLineGranularityIsMetByTheOption() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        // Without the option an emulated device cannot give cache-line granularity...
        let refused = #expect(throws: DaxError.self) {
            try DaxDevice.createEmulated(at: dir.file("a"), size: 1 << 16, options: .init(requiredGranularity: .cacheLine))
        }
        #expect(refused?.code == .mapSyncUnsupported)
        // ...with it, it does.
        let device = try DaxDevice.createEmulated(at: dir.file("b"), size: 1 << 16,
                                                  options: .init(requiredGranularity: .cacheLine, unsafeCacheLinePersistence: true))
        #expect(device.granularity == .cacheLine)
    }

    @Test func refusedWithByteGranularityRequired() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let error = #expect(throws: DaxError.self) {
            try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 16,
                                         options: .init(requiredGranularity: .byte, unsafeCacheLinePersistence: true))
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.path == dir.file("dev"))
        #expect(error?.message.contains("byte") == true)
    }

    @Test func refusedWithASimulatedDomain() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var options = DaxDevice.OpenOptions(simulation: .init(seed: 1))
        options.unsafeCacheLinePersistence = true
        let error = #expect(throws: DaxError.self) {
            try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 16, options: options)
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("simulated") == true)
    }

    /// On device-dax the option changes nothing: the persist already is the hardware's.
    @Test(.enabled(if: firstDeviceDax() != nil, "needs a /dev/daxX.Y this user can open (none here)"))
    func ignoredOnDeviceDax() throws {
        let path = try #require(firstDeviceDax())
        let plain = try DaxDevice.open(path)
        let granularity = plain.granularity
        plain.close()
        let forced = try DaxDevice.open(path, options: .init(unsafeCacheLinePersistence: true))
        defer { forced.close() }
        #expect(forced.granularity == granularity)
    }
}

/// The first device-dax node that opens read-write, if any.
private func firstDeviceDax() -> String? {
    guard let dir = opendir("/dev") else { return nil }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name.hasPrefix("dax") else { continue }
        let path = "/dev/" + name
        if access(path, R_OK | W_OK) == 0 { return path }
    }
    return nil
}
