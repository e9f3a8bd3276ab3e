import Glibc

/// Writes `block`-byte copies at sequential offsets (wrapping at the writer's
/// region) for about `seconds`, and returns GB/s (10^9 bytes per second).
/// The clock is read about once per MiB written, never per copy.
@inline(__always)
func throughput<W: BlockWriter>(_ writer: W, source: UnsafeRawPointer, block: Int, seconds: Double,
                                cursor: inout Int) -> Double {
    let batch = max(1, (1 << 20) / block)
    let budget = UInt64(seconds * 1e9)
    let limit = writer.length - block
    // The cursor carries over from a smaller block: it may no longer leave room.
    var offset = cursor > limit ? 0 : cursor
    var copies = 0
    let start = nowNanoseconds()
    var elapsed: UInt64 = 0
    repeat {
        for _ in 0..<batch {
            writer.write(source, block, at: offset)
            offset += block
            if offset > limit { offset = 0 }
        }
        copies += batch
        elapsed = nowNanoseconds() - start
    } while elapsed < budget
    cursor = offset
    return Double(copies * block) / Double(elapsed)
}

/// Measures each writer at `block` in `rounds` interleaved rounds (the order
/// rotates every round) of `seconds / rounds` each; returns each writer's median.
func measureInterleaved(_ writers: [any BlockWriter], cursors: inout [Int], source: UnsafeRawPointer,
                        block: Int, seconds: Double, rounds: Int) -> [Double] {
    var samples = [[Double]](repeating: [], count: writers.count)
    for round in 0..<rounds {
        for k in 0..<writers.count {
            let i = (k + round) % writers.count
            samples[i].append(measureOne(writers[i], source: source, block: block, seconds: seconds / Double(rounds),
                                         cursor: &cursors[i]))
        }
    }
    return samples.map(\.median)
}

/// As above, with each implementation mapped over every region: in round `r`
/// implementation `i` writes region `(i + r) % regions`, so within a round no
/// two share a region and, over a multiple of `regions` rounds, each spends
/// the same time in each (the physical memory behind a region, e.g. the host's
/// huge pages under a VM, moves a cell by several %).
func measureRotating(_ variants: [[any BlockWriter]], cursors: inout [Int], source: UnsafeRawPointer,
                     block: Int, seconds: Double, rounds: Int) -> [Double] {
    var samples = [[Double]](repeating: [], count: variants.count)
    for round in 0..<rounds {
        for k in 0..<variants.count {
            let i = (k + round) % variants.count
            let writer = variants[i][(i + round) % variants[i].count]
            samples[i].append(measureOne(writer, source: source, block: block, seconds: seconds / Double(rounds),
                                         cursor: &cursors[i]))
        }
    }
    return samples.map(\.median)
}

/// Casts to the concrete writer once so the copy loop is specialised for it
/// (no existential dispatch per copy).
private func measureOne(_ writer: any BlockWriter, source: UnsafeRawPointer, block: Int, seconds: Double,
                        cursor: inout Int) -> Double {
    func run<W: BlockWriter>(_ w: W) -> Double {
        throughput(w, source: source, block: block, seconds: seconds, cursor: &cursor)
    }
    if let w = writer as? DaxmapWriter { return run(w) }
    if let w = writer as? DaxmapParallelWriter { return run(w) }
    if let w = writer as? Pmem2Writer { return run(w) }
    if let w = writer as? MemcpyWriter { return run(w) }
    if let w = writer as? DaxmapCacheLineWriter { return run(w) }
    if let w = writer as? DaxmapPageWriter { return run(w) }
    if let w = writer as? GuardedWriter { return run(w) }
    if let w = writer as? UnguardedWriter { return run(w) }
    if let w = writer as? GuardedReader { return run(w) }
    if let w = writer as? UnguardedReader { return run(w) }
    return run(writer)
}
