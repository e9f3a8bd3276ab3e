import DaxMap
import Glibc

/// What the testing products' hooks cost a mapping that does not use them:
/// guarded calls per second on a plain mapping (no simulation), through the
/// public API only, so this file builds unchanged on a tree from before the
/// hooks and the two runs compare. `write` and `read` pay the mapping's checks
/// (the state switch that also holds the cut-off case) and the strategy's
/// call; `write + persist` is the whole small-record path (an `msync` on a
/// page-granularity target, which then dominates).
func runHookBenchmark(options: BenchOptions) {
    let size: UInt64 = 1 << 20
    let path = "/dev/shm/daxmap-bench-\(getpid())-hooks"
    defer { unlink(path) }
    let device: DaxDevice, mapping: DaxMapping
    do {
        device = try DaxDevice.createEmulated(at: path, size: size)
        mapping = try device.map(options: .init(prefault: true))
    } catch {
        warn("hooks: \(error)")
        return
    }
    defer { mapping.close(); device.close() }
    let block = 64, span = Int(size) - block
    var bytes = [UInt8](repeating: 0x5A, count: block)
    /// Calls per second of `body` over about `seconds`, the clock read every 1024 calls.
    func rate(_ seconds: Double, _ body: (Int) throws(DaxError) -> Void) -> Double {
        let budget = UInt64(seconds * 1e9)
        let start = nowNanoseconds()
        var calls = 0, at = 0, elapsed: UInt64 = 0
        repeat {
            for _ in 0..<1024 {
                do throws(DaxError) { try body(at) } catch { fail("hooks: \(error)") }
                at = at >= span ? 0 : at + block
            }
            calls += 1024
            elapsed = nowNanoseconds() - start
        } while elapsed < budget
        return Double(calls) / (Double(elapsed) / 1e9)
    }
    let cell = options.cellSeconds / Double(options.rounds)
    var rows: [(String, [Double])] = [("write 64 B, persist: false", []), ("read 64 B", []), ("write 64 B + persist", [])]
    bytes.withUnsafeMutableBytes { buffer in
        let source = UnsafeRawBufferPointer(buffer)
        for _ in 0..<options.rounds {
            rows[0].1.append(rate(cell) { (at: Int) throws(DaxError) in try mapping.write(source, at: at, persist: false) })
            rows[1].1.append(rate(cell) { (at: Int) throws(DaxError) in try mapping.read(at: at, into: buffer) })
            rows[2].1.append(rate(cell) { (at: Int) throws(DaxError) in try mapping.write(source, at: at, persist: true) })
        }
    }
    report("== Unused test hooks: guarded calls on a plain mapping (\(device.granularity), no simulation) ==")
    report("  compare with the same rows of a build before the hooks moved out (this file builds there too)")
    printTable(["call", "Mcalls/s (median of \(options.rounds))", "ns/call"], rows.map { name, samples in
        let m = samples.median
        return [name, fixed(m / 1e6, 2), fixed(1e9 / m, 1)]
    })
    report()
}
