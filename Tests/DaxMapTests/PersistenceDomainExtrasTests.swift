import CDaxMap
import Glibc
import Testing
@testable import DaxMap

/// deepFlush, the unsafe-shutdown count, and FIEMAP badblocks in file offsets.
@Suite struct PersistenceDomainExtrasTests {
    private let page = UInt64(pageSize)

    @Test func deepFlushOnAnEmulatedDeviceSaysItIsANoOp() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 16 * page)
        let flush = try device.deepFlush()
        #expect(flush.method == .notApplicable && flush.region == nil)
        #expect(flush.detail.contains("emulated"))
        #expect(try device.deepFlush(range: page..<(2 * page)).method == .notApplicable)
        for (range, code) in [(0..<(17 * page), DaxError.Code.outOfRange), (1..<page, .misaligned), (page..<page, .outOfRange)] {
            let error = #expect(throws: DaxError.self) { try device.deepFlush(range: range) }
            #expect(error?.code == code && error?.operation == "deepFlush")
        }
    }

    @Test func theUnsafeShutdownCountOfAnEmulatedDeviceIsUnsupportedNotFailed() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: page)
        #expect(device.unsafeShutdownCount == .unsupported)
        #expect(device.unsafeShutdownCount.value == nil)
        // The two are told apart from libndctl's return value.
        #expect(DirtyShutdownCount(returnValue: -Int64(EOPNOTSUPP)) == .unsupported)
        #expect(DirtyShutdownCount(returnValue: -Int64(EIO)) == .failed(.ioError))
        #expect(DirtyShutdownCount(returnValue: 3) == .count(3))
    }

    @Test func fiemapGivesTheExtentsOfARealFile() throws {
        let dir = TemporaryDirectory() // /tmp: ext4 here, FIEMAP works
        defer { dir.remove() }
        let path = dir.file("data")
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        defer { close(fd) }
        let bytes = [UInt8](repeating: 0xAB, count: 64 << 10)
        #expect(write(fd, bytes, bytes.count) == bytes.count)
        fsync(fd)
        switch FileBadblocks.extents(fd) {
        case .success(let extents):
            #expect(!extents.isEmpty)
            #expect(extents.first?.logical == 0)
            #expect(extents.reduce(0) { $0 + $1.length } >= UInt64(bytes.count))
        case .failure(let errno):
            #expect(errno == .notSupported, "FIEMAP failed: \(errno)")
        }
    }

    @Test func deviceBadblocksBecomeFileOffsetsThroughTheExtents() {
        func extent(_ logical: UInt64, _ physical: UInt64, _ length: UInt64) -> cdaxmap_extent {
            cdaxmap_extent(logical: logical, physical: physical, length: length, flags: 0, reserved: 0)
        }
        // File [0, 8K) at disk 1M, file [8K, 16K) at disk 3M.
        let extents = [extent(0, 1 << 20, 8192), extent(8192, 3 << 20, 8192)]
        let bad: [Range<UInt64>] = [
            ((1 << 20) + 4096)..<((1 << 20) + 4608), // one sector in the first extent
            ((3 << 20) - 512)..<((3 << 20) + 1024),  // straddles the start of the second
            (5 << 20)..<((5 << 20) + 512),           // not in the file
        ]
        #expect(FileBadblocks.fileRanges(of: bad, through: extents) == [4096..<4608, 8192..<9216])
    }

    @Test func aPartitionsBadblocksCountFromItsStart() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let root = dir.path
        #expect(system("mkdir -p '\(root)/devices/pmem0/pmem0p1' '\(root)/dev/block' && ln -s ../../devices/pmem0/pmem0p1 '\(root)/dev/block/259:1'") == 0)
        let write = { (path: String, text: String) in
            let f = fopen(path, "w")!
            fputs(text, f)
            fclose(f)
        }
        write("\(root)/devices/pmem0/pmem0p1/start", "2048\n")
        write("\(root)/devices/pmem0/badblocks", "2056 8\n100 4\n")
        let dev = UInt64(259 << 8 | 1) // makedev(259, 1): minor < 256
        #expect(FileBadblocks.blockDeviceBadblocks(dev, root: root) == [4096..<8192])
    }
}
