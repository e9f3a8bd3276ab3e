import CDaxMap
import Glibc
import Testing
@testable import DaxMap

/// The guarded copy, fill and flush routines (built from copy_mc.c and copy_mc_avx.c on x86-64,
/// sigsetjmp guards elsewhere): every length class, with ordinary and with
/// streaming stores, copies exactly its bytes, and a real fault in each class
/// returns an error naming the first failing byte instead of killing the process.
@Suite(.serialized) struct RecoverableCopyTests {
    /// Lengths that reach every path: 0 ... 40 byte by byte (the 1/4/8/16/32
    /// byte cases), the 32-byte loops and the 128-byte one, both sides of the rep threshold, pages.
    static let lengths = Array(0...40) + [63, 64, 65, 95, 96, 97, 127, 128, 129, 160, 161, 255, 256, 257, 511, 512, 513, 1000, 1023, 1024, 1025, 4095, 4096, 4097, 12_345]

    /// Every vector width this CPU allows (0 SSE2, 1 AVX, 2 AVX-512): each is a
    /// path of its own through the copies below, so each test runs on each.
    static let vectorWidths = Array(0...Int(cdaxmap_copy_vectors(-1)))

    /// Runs `body` with guarded copies capped at `width`, then lifts the cap.
    static func capped<T>(at width: Int, _ body: () throws -> T) rethrows -> T {
        #expect(Int(cdaxmap_copy_vectors(CInt(width))) == width)
        defer { cdaxmap_copy_vectors(2) }
        return try body()
    }

    /// Whether every byte of `buffer` outside `except` is `value` (memcmp: fast under TSan too).
    static func holds(_ buffer: UnsafeMutableRawBufferPointer, _ value: UInt8, except: Range<Int> = 0..<0) -> Bool {
        let expected = [UInt8](repeating: value, count: buffer.count)
        return expected.withUnsafeBytes { e in
            memcmp(buffer.baseAddress!, e.baseAddress!, except.lowerBound) == 0
                && memcmp(buffer.baseAddress! + except.upperBound, e.baseAddress!, buffer.count - except.upperBound) == 0
        }
    }

    @Test(arguments: vectorWidths)
    func copiesExactlyTheBytesAskedForAtEveryLengthAndAlignment(vectors: Int) {
        Self.capped(at: vectors) { copiesExactly() }
    }

    private func copiesExactly() {
        let size = 16_384, margin = 64
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: size + 2 * margin, alignment: 64)
        let target = UnsafeMutableRawBufferPointer.allocate(byteCount: size + 2 * margin, alignment: 64)
        defer { source.deallocate(); target.deallocate() }
        for i in 0..<source.count { source[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        var mismatches: [String] = []
        for n in Self.lengths {
            for (srcShift, dstShift) in [(0, 0), (1, 0), (0, 7), (15, 3), (33, 61)] {
              // Mode 0 ordinary stores, 1 streaming stores, 2 the copy out of a mapping (a read).
              for mode: CInt in [0, 1, 2] {
                target.initializeMemory(as: UInt8.self, repeating: 0xEE)
                var fault = cdaxmap_fault()
                let (to, from) = (target.baseAddress! + margin + dstShift, UnsafeRawPointer(source.baseAddress! + margin + srcShift))
                let r = mode == 2 ? cdaxmap_read_guarded(to, from, n, &fault)
                                  : cdaxmap_copy_guarded(to, from, n, mode, &fault)
                let copied = memcmp(target.baseAddress! + margin + dstShift, source.baseAddress! + margin + srcShift, n) == 0
                let untouched = Self.holds(target, 0xEE, except: (margin + dstShift)..<(margin + dstShift + n))
                if r != 0 || !copied || !untouched {
                    mismatches.append("copy n=\(n) src+\(srcShift) dst+\(dstShift) mode=\(mode): r=\(r) copied=\(copied) untouched=\(untouched)")
                }
              }
            }
        }
        cdaxmap_sfence()
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test(arguments: vectorWidths)
    func fillsExactlyTheBytesAskedForAtEveryLengthAndAlignment(vectors: Int) {
        Self.capped(at: vectors) { fillsExactly() }
    }

    private func fillsExactly() {
        let size = 16_384, margin = 64
        let target = UnsafeMutableRawBufferPointer.allocate(byteCount: size + 2 * margin, alignment: 64)
        defer { target.deallocate() }
        var mismatches: [String] = []
        for n in Self.lengths {
            for shift in [0, 1, 7, 13, 63] {
              for streaming: CInt in [0, 1] {
                target.initializeMemory(as: UInt8.self, repeating: 0xEE)
                var fault = cdaxmap_fault()
                // 0x1A5: only the low byte counts, as for memset.
                let r = cdaxmap_fill_guarded(target.baseAddress! + margin + shift, 0x1A5, n, streaming, &fault)
                let filled = Self.holds(UnsafeMutableRawBufferPointer(rebasing: target[(margin + shift)..<(margin + shift + n)]), 0xA5)
                let untouched = Self.holds(target, 0xEE, except: (margin + shift)..<(margin + shift + n))
                if r != 0 || !filled || !untouched {
                    mismatches.append("fill n=\(n) +\(shift) nt=\(streaming): r=\(r) filled=\(filled) untouched=\(untouched)")
                }
              }
            }
        }
        cdaxmap_sfence()
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    /// A 32-page emulated device truncated to 16: every access that crosses
    /// into page 16 meets a real BUS_ADRERR there.
    private func truncatedMapping(_ dir: TemporaryDirectory) throws -> (DaxDevice, DaxMapping) {
        let path = dir.file("dev")
        let device = try DaxDevice.createEmulated(at: path, size: UInt64(32 * pageSize))
        let mapping = try device.map()
        try mapping.fill(0x5A, at: 0, count: 32 * pageSize)
        truncateFile(path, to: 16 * pageSize)
        return (device, mapping)
    }

    @Test(arguments: vectorWidths)
    func faultsInEveryLengthClassThrowAtTheFirstFailingByte(vectors: Int) throws {
        try Self.capped(at: vectors) { try faultsAtTheFirstFailingByte() }
    }

    private func faultsAtTheFirstFailingByte() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (_, mapping) = try truncatedMapping(dir)
        let edge = 16 * pageSize
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 12 * pageSize, alignment: 64)
        defer { buffer.deallocate() }
        var wrong: [String] = []
        // From 2 bytes up every access starts before the edge and ends past it;
        // at this page granularity 8 KiB and more take streaming stores.
        for n in [1, 2, 3, 6, 12, 24, 40, 100, 400, 1023, 1024, 3000, 4096, 8192, 3 * pageSize] {
            let start = n == 1 ? edge : edge - n / 2
            func check(_ what: String, _ body: () throws(DaxError) -> Void) {
                do {
                    try body()
                    wrong.append("\(what) n=\(n): no error")
                } catch {
                    if error.code != .deviceRemoved || error.offset != UInt64(edge) {
                        wrong.append("\(what) n=\(n): \(error.code) at \(error.offset.map(String.init) ?? "-")")
                    }
                }
            }
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
            check("read") { () throws(DaxError) in try mapping.read(at: start, into: part) }
            check("write") { () throws(DaxError) in try mapping.write(UnsafeRawBufferPointer(part), at: start, persist: false) }
            check("fill") { () throws(DaxError) in try mapping.fill(1, at: start, count: n, persist: false) }
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(6))")
        // The bytes before the edge are still the device's.
        var before = [UInt8](repeating: 0, count: 64)
        try before.withUnsafeMutableBytes { try mapping.read(at: edge - 8192 - 64, into: $0) }
        #expect(before.allSatisfy { $0 == 0x5A })
    }

    /// Streaming copies and fills fault in their ordinary head, their streamed
    /// body or their ordinary tail: each reports the first failing byte.
    @Test(arguments: vectorWidths)
    func streamingFaultsInHeadBodyAndTailReportTheFirstFailingByte(vectors: Int) throws {
        try Self.capped(at: vectors) { try streamingFaultsAtTheFirstFailingByte() }
    }

    private func streamingFaultsAtTheFirstFailingByte() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (_, mapping) = try truncatedMapping(dir)
        let edge = 16 * pageSize
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 * pageSize, alignment: 64)
        defer { source.deallocate() }
        // (start, length): the head starts past the edge; the body crosses it; the
        // tail does (after a head, or after a body); a long body does.
        let cases = [(edge + 3, 100), (edge - 20, 300), (edge - 50, 3000), (edge - 10, 40), (edge - 128, 128 + 10),
                     (edge - 4096, 8192)]
        var wrong: [String] = []
        mapping.withUnsafeMutableBytes { bytes in
            let base = bytes.baseAddress!
            for (start, n) in cases {
                var fault = cdaxmap_fault()
                let c = cdaxmap_copy_guarded(base + start, source.baseAddress!, n, 1, &fault)
                let first = max(start, edge)
                if c != -EFAULT || Int(fault.address) - Int(bitPattern: base) != first {
                    wrong.append("copy \(start - edge)+\(n): r=\(c) at \(Int(fault.address) - Int(bitPattern: base) - edge)")
                }
                fault = cdaxmap_fault()
                let f = cdaxmap_fill_guarded(base + start, 3, n, 1, &fault)
                if f != -EFAULT || Int(fault.address) - Int(bitPattern: base) != first {
                    wrong.append("fill \(start - edge)+\(n): r=\(f) at \(Int(fault.address) - Int(bitPattern: base) - edge)")
                }
            }
        }
        #expect(wrong.isEmpty, "\(wrong)")
    }

    // The library's cpuid result, not `cdaxmap_flush_detect()` inlined here: under
    // -sanitize=address this function's frame needs %rbx as its base pointer, which the
    // header's `cpuid` asm clobbers; swiftc 6.3.1 then drops the "cannot compile inline
    // asm" error and writes this file's object without a single relocation (make asan
    // checks for that; see the Makefile).
    @Test(.enabled(if: Persistence.flushKind != CInt(CDAXMAP_FLUSH_NONE.rawValue), "no cache-flush instruction here"))
    func aFlushThatFaultsReturnsAnError() throws {
        let kind = Persistence.flushKind
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (_, mapping) = try truncatedMapping(dir)
        let edge = 16 * pageSize
        let (ok, failed, address) = mapping.withUnsafeMutableBytes { bytes in
            var fault = cdaxmap_fault()
            let ok = cdaxmap_flush_guarded(kind, bytes.baseAddress! + edge - 256, 256, &fault)
            let failed = cdaxmap_flush_guarded(kind, bytes.baseAddress! + edge - 256, 512, &fault)
            return (ok, failed, Int(fault.address) - Int(bitPattern: bytes.baseAddress!))
        }
        #expect(ok == 0)
        #expect(failed == -EFAULT)
        #expect(address == edge)
    }

    @Test func anAccessAfterCloseIsCaughtAsSIGSEGV() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: UInt64(4 * pageSize))
        let mapping = try device.map()
        let base = mapping.withUnsafeMutableBytes { $0.baseAddress! }
        mapping.close() // a PROT_NONE reservation until deinit
        var buffer = [UInt8](repeating: 0, count: 100)
        var fault = cdaxmap_fault()
        let r = buffer.withUnsafeMutableBytes { cdaxmap_copy_guarded($0.baseAddress!, base + 10, 100, 0, &fault) }
        #expect(r == -EFAULT)
        #expect(fault.signo == SIGSEGV)
        #expect(Int(fault.address) - Int(bitPattern: base) == 10)
        withExtendedLifetime(mapping) {}
    }
}

/// `DAXMAP_MOVNT_THRESHOLD` sets the non-temporal threshold (read once per process, so in a child).
@Suite struct NonTemporalThresholdTests {
    @Test(arguments: [("", "default 256 page 8192"), ("4096", "default 4096 page 4096"), ("0", "default 0 page 0"),
                      ("12k", "default 256 page 8192"), ("-5", "default 256 page 8192"),
                      ("99999999999999999999999", "default 256 page 8192")])
    func theEnvironmentSetsTheThresholdAndNonsenseIsIgnored(value: String, expected: String) {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let set = value.isEmpty ? "env -u DAXMAP_MOVNT_THRESHOLD" : "env DAXMAP_MOVNT_THRESHOLD=\(quoted(value))"
        let r = runShell("\(set) \(quoted(buildDirectory + "/daxmap-probe")) thresholds \(quoted(dir.path))")
        #expect(r.status == 0 && r.stdout == expected + "\n", "\(value): \(r.stdout) \(r.stderr)")
    }
}
