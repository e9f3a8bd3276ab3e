import CPmemlog
import DaxLog
import DaxMap
import Glibc

/// Whether the target is DAX (device-dax, or a file on a DAX mount): then only
/// its own granularity is measured, with no forcing on either side.
func onDaxTarget() -> Bool {
    if isCharDevice { return true }
    guard target != nil else { return false } // /dev/shm
    do {
        let device = try DaxDevice.createEmulated(at: daxPath, size: UInt64(logSize))
        defer { device.close() }
        return device.kind != .emulated
    } catch { fail("cannot open \(daxPath): \(error)") }
}

/// Measures every cell at `granularity` in this process (a child, or the user's --granularity).
func runGranularity(_ granularity: String) -> [Row] {
    switch granularity {
    // libpmem decides pmem or not at its first pmem_is_pmem, which the first pmemlog_create makes.
    case "cacheLine": setenv("PMEM_IS_PMEM_FORCE", "1", 1)
    case "page": unsetenv("PMEM_IS_PMEM_FORCE")
    default: break
    }
    let cacheLine = granularity == "cacheLine"
    if cacheLine || granularity == "page", onDaxTarget() {
        fail("\(target ?? "") is DAX: it has one granularity, its own (--granularity native)")
    }
    let seconds = Double(cellMilliseconds) / 1000
    var rows: [Row] = []
    if isCharDevice {
        // The device is shared in turn: DaxLog's cells first, then libpmemlog's.
        let dax = DaxLogAppender(path: daxPath, charDevice: true, cacheLine: false, size: logSize)
        let label = granularity == "native" ? name(dax.log.device.granularity) : granularity
        var daxRuns: [RunResult] = []
        for c in cells() {
            let x = dax.run(record: c.record, batch: c.batch, threads: c.threads, seconds: seconds)
            daxRuns.append(x)
            var row = Row(record: c.record, batch: c.batch, threads: c.threads, granularity: label)
            row.daxlog = Double(x.records) * 1e9 / Double(x.nanoseconds)
            (row.daxP50, row.daxP99) = percentiles([x])
            rows.append(row)
        }
        dax.log.close()
        let pmem = PmemlogAppender(path: pmemPath, charDevice: true, size: logSize)
        for i in rows.indices {
            let y = pmem.run(record: rows[i].record, batch: rows[i].batch, threads: rows[i].threads, seconds: seconds)
            rows[i].pmemlog = Double(y.records) * 1e9 / Double(y.nanoseconds)
            (rows[i].pmemP50, rows[i].pmemP99) = percentiles([y])
        }
        pmem.close()
        return rows
    }
    let dax = DaxLogAppender(path: daxPath, charDevice: false, cacheLine: cacheLine, size: logSize)
    let pmem = PmemlogAppender(path: pmemPath, charDevice: false, size: logSize)
    let label = granularity == "native" ? name(dax.log.device.granularity) : granularity
    let rounds = 3
    for c in cells() {
        var xs: [RunResult] = [], ys: [RunResult] = []
        for _ in 0..<rounds { // interleaved, so a noisy neighbour hurts both alike
            xs.append(dax.run(record: c.record, batch: c.batch, threads: c.threads, seconds: seconds / Double(rounds)))
            ys.append(pmem.run(record: c.record, batch: c.batch, threads: c.threads, seconds: seconds / Double(rounds)))
        }
        var row = Row(record: c.record, batch: c.batch, threads: c.threads, granularity: label)
        row.daxlog = Double(xs.reduce(0) { $0 + $1.records }) * 1e9 / Double(xs.reduce(0) { $0 + $1.nanoseconds })
        row.pmemlog = Double(ys.reduce(0) { $0 + $1.records }) * 1e9 / Double(ys.reduce(0) { $0 + $1.nanoseconds })
        (row.daxP50, row.daxP99) = percentiles(xs)
        (row.pmemP50, row.pmemP99) = percentiles(ys)
        rows.append(row)
    }
    dax.log.close()
    pmem.close()
    return rows
}

/// Runs this program again for `granularity` (a fresh libpmem) and reads its rows.
func runChild(granularity: String) -> [Row] {
    var args = ["daxlog-bench", "--granularity", granularity, "--wire", "--cell-ms", String(cellMilliseconds)]
    if let target { args += ["--target", target] }
    if recordSizes.count == 1 { args += ["--record", String(recordSizes[0])] }
    if batches.count == 1 { args += ["--batch", String(batches[0])] }
    if threadCounts.count == 1 { args += ["--threads", String(threadCounts[0])] }
    var fds: [CInt] = [-1, -1]
    guard pipe(&fds) == 0 else { fail("pipe: \(String(cString: strerror(errno)))") }
    for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) } // the child has only its dup2'd stdout
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO)
    let argv = args.map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid = pid_t()
    let rc = posix_spawn(&pid, "/proc/self/exe", &actions, nil, argv, environ)
    close(fds[1])
    guard rc == 0 else { fail("cannot run the \(granularity) child: \(String(cString: strerror(rc)))") }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        output += chunk[0..<n]
    }
    close(fds[0])
    var status: CInt = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    guard status == 0 else { fail("the \(granularity) child failed (wait status \(status)); its error is above") }
    let rows = String(decoding: output, as: UTF8.self).split(separator: "\n").compactMap { Row(wire: $0) }
    guard rows.count == cells().count else {
        fail("the \(granularity) child gave \(rows.count) rows, not \(cells().count)")
    }
    return rows
}

/// The JSON's name of a granularity (`page`, `cacheLine`, `byte`).
func name(_ g: StoreGranularity) -> String { g == .cacheLine ? "cacheLine" : "\(g)" }
