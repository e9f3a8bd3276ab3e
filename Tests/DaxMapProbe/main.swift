// A child process for daxmap's tests of signals that end a process or change
// its signal actions: a SIGBUS outside daxmap's ranges must keep its previous
// effect, the terminate policy must die with a diagnostic, a forged SIGBUS must
// reach the previous handler untouched, a displaced handler must be detected
// and put back. Usage: daxmap-probe MODE DIR
import CDaxMap
import CDaxMapTesting
import DaxMap
import Glibc
import Logging
import Synchronization

func complain(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

let args = CommandLine.arguments
guard args.count == 3 else {
    complain("usage: daxmap-probe exit-after-retire|foreign-sigbus|foreign-sigbus-baseline|terminate|forged-sigbus|killed-sigbus-{runtime,reset,ignore,recorder}|displaced-handler|thread-limit|thresholds|stream-log-notice|stream-log-daxlogging|lazy-runtime|channel-unavailable DIR\n")
    exit(2)
}
let mode = args[1], dir = args[2]
// Flushed by the first exit handler to run: a sanitizer's leak report at exit
// ends the process (_exit) before stdio would be, and the test must still see
// everything printed. (fflush's result: nothing to do about a failure here.)
atexit { _ = fflush(nil) }
let page = Int(sysconf(Int32(_SC_PAGESIZE)))

/// A shared mapping of a 2-page file, then the file truncated to nothing: the
/// next load is a real SIGBUS (BUS_ADRERR) that daxmap does not own.
func foreignFault() -> Never {
    let path = dir + "/foreign"
    let fd = open(path, O_RDWR | O_CREAT, 0o644)
    precondition(fd >= 0 && ftruncate(fd, off_t(2 * page)) == 0)
    let p = mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)!
    precondition(ftruncate(fd, 0) == 0)
    let value = p.load(fromByteOffset: page, as: UInt8.self) // SIGBUS here
    print("survived with \(value)")
    exit(0)
}

/// An emulated device of `pages` pages mapped whole, written with a pattern.
func patternedMapping(pages: Int) throws -> (DaxDevice, DaxMapping) {
    let device = try DaxDevice.createEmulated(at: dir + "/dev", size: UInt64(pages * page))
    let mapping = try device.map()
    let pattern = (0..<(pages * page)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
    try pattern.withUnsafeBytes { try mapping.write($0, at: 0) }
    return (device, mapping)
}

func patternIntact(_ mapping: DaxMapping, pages: Int) -> Bool {
    var bytes = [UInt8](repeating: 0, count: pages * page)
    do {
        try bytes.withUnsafeMutableBytes { try mapping.read(at: 0, into: $0) }
    } catch {
        return false
    }
    return bytes.indices.allSatisfy { bytes[$0] == UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
}

/// The process's own SIGBUS handler first (it records and returns: safe for a
/// sent signal), then daxmap on top; a SIGBUS the thread sends itself with
/// SI_QUEUE and an address inside the mapping must reach that handler and
/// leave the mapping alone.
func forgedSignal() -> Never {
    precondition(cdaxmap_test_install_recorder(SIGBUS) == 0)
    do {
        let (_, mapping) = try patternedMapping(pages: 4)
        let base = mapping.withUnsafeMutableBytes { $0.baseAddress! }
        let r = cdaxmap_test_forge_signal(SIGBUS, -1 /* SI_QUEUE */, base + page + 10, 0)
        print("sent \(r)")
        print("previous-handler-ran \(cdaxmap_test_recorded()) code \(cdaxmap_test_recorded_code())")
        print("forged \(cdaxmap_events_forged())")
        print("chained \(cdaxmap_events_chained())")
        print("intact \(patternIntact(mapping, pages: 4))")
        print("lost \(mapping.lostRanges.count)")
        exit(0)
    } catch {
        complain("setup failed: \(error)\n")
        exit(2)
    }
}

/// A SIGBUS sent by another process (`kill -BUS`) while a mapping is in use,
/// with `previous` as the action daxmap displaced: "runtime" (what the Swift
/// runtime installed), "reset" (resets to SIG_DFL and returns, as the Swift
/// runtime's crash handler does), "ignore" (sets SIG_IGN and returns),
/// "recorder" (counts and returns). Writes DIR/ready once mapped, waits for
/// the signal, then truncates the device under the mapping: a guarded read
/// there must throw `deviceRemoved` (daxmap's handler still armed), never die.
func killedSignal(previous: String) -> Never {
    switch previous {
    case "reset": precondition(cdaxmap_test_install_resetter(SIGBUS, 0) == 0)
    case "ignore": precondition(cdaxmap_test_install_resetter(SIGBUS, 1) == 0)
    case "recorder": precondition(cdaxmap_test_install_recorder(SIGBUS) == 0)
    default: break
    }
    do {
        let (_, mapping) = try patternedMapping(pages: 4)
        let ready = open(dir + "/ready", O_WRONLY | O_CREAT | O_EXCL, 0o644)
        precondition(ready >= 0)
        close(ready)
        // Bounded: a signal that never came fails the test by the missing lines.
        for _ in 0..<6000 where cdaxmap_events_forged() == 0 { usleep(10_000) }
        print("forged \(cdaxmap_events_forged())")
        print("previous-handler-ran \(cdaxmap_test_recorded())")
        print("rearmed \(cdaxmap_events_rearmed())")
        print("displaced \(cdaxmap_sigbus_displaced())")
        _ = fflush(nil) // on record even if the fault below kills the process
        precondition(truncate(dir + "/dev", off_t(2 * page)) == 0)
        var bytes = [UInt8](repeating: 0, count: 16)
        do {
            try bytes.withUnsafeMutableBytes { try mapping.read(at: 3 * page, into: $0) }
            print("read succeeded")
        } catch {
            if let error = error as? DaxError { print("read-error \(error.code)") } else { print("read-error \(error)") }
        }
        print("intact \(patternIntact(mapping, pages: 2))")
        exit(0)
    } catch {
        complain("setup failed: \(error)\n")
        exit(2)
    }
}

/// A holder whose `notifyFailure` blocks its thread and never answers.
final class BlockingHolder: DaxHolder {
    let name: String
    init(_ name: String) { self.name = name }
    var description: String { name }
    func notifyFailure(_ failure: DaxFailure) async -> Bool {
        while true { sleep(1000) }
    }
}

/// 300 holders that block, each with a mapping, then a removal with a short
/// deadline: run under a thread limit (RLIMIT_NPROC) below what they would
/// need, the removal must return by its deadline and the process must exit.
func threadLimit() async {
    do {
        let count = 300
        let device = try DaxDevice.createEmulated(at: dir + "/dev", size: UInt64(count * page))
        var mappings: [DaxMapping] = []
        for i in 0..<count {
            mappings.append(try device.map(offset: UInt64(i * page), length: UInt64(page), holder: BlockingHolder("blocking-\(i)")))
        }
        let started = ContinuousClock.now
        let report = await device.beginRemoval(deadline: .milliseconds(500))
        print("removal-returned \(report.holdersNotified) notified \(report.holdersAnswered) answered \(report.mappingsRevoked) revoked")
        print("removal-took-ms \((ContinuousClock.now - started) / .milliseconds(1))")
        print("holder-threads \(threads(named: "daxmap-holder"))")
        print("exiting")
        _ = fflush(nil)
        withExtendedLifetime(mappings) {}
    } catch {
        complain("setup failed: \(error)\n")
        exit(2)
    }
}

/// daxmap installed, then another SIGBUS handler on top: daxmap reports it
/// displaced, reinstall puts it back in front, a real BUS_ADRERR is daxmap's
/// again (nothing chained), and the displacing handler is what daxmap chains
/// to now (a forged signal reaches it). Returns (rather than exit here) so its
/// frame's values are released: an `exit` inside an async function leaves them
/// to LeakSanitizer.
func displacedHandler() async {
    do {
        try DaxMonitor.start()
        let (device, mapping) = try patternedMapping(pages: 8)
        let events = DaxMonitor.events()
        print("displaced-before \(cdaxmap_sigbus_displaced())")
        precondition(cdaxmap_test_install_recorder(SIGBUS) == 0)
        print("displaced \(cdaxmap_sigbus_displaced())")
        print("public-displaced \(DaxMonitor.handlerDisplaced)")
        do {
            _ = try device.map(offset: 0, length: UInt64(page))
            print("map-while-displaced succeeded")
        } catch {
            print("map-while-displaced \(error.code)")
        }
        // The monitor notices on its next wake (at most 250 ms): an event and a count.
        let waiter = Task {
            for await event in events {
                if case .handlerDisplaced(let signals) = event, signals.contains(.sigbus) { return true }
            }
            return false
        }
        for _ in 0..<100 where DaxMonitor.statistics.handlerDisplacements == 0 { usleep(20_000) }
        print("displacements \(DaxMonitor.statistics.handlerDisplacements)")
        let timeout = Task {
            try? await Task.sleep(for: .seconds(5))
            waiter.cancel() // ends the stream's iteration: no event came
        }
        print("event \(await waiter.value)")
        timeout.cancel()
        do {
            try DaxMonitor.reinstallHandler()
            print("reinstall 0")
        } catch {
            print("reinstall \(error)")
        }
        print("displaced-after \(cdaxmap_sigbus_displaced())")
        do {
            let again = try device.map(offset: 0, length: UInt64(page))
            print("map-after-reinstall ok")
            again.close()
        } catch {
            print("map-after-reinstall \(error.code)")
        }
        let chained = cdaxmap_events_chained()
        precondition(truncate(dir + "/dev", off_t(2 * page)) == 0)
        var bytes = [UInt8](repeating: 0, count: 16)
        do {
            try bytes.withUnsafeMutableBytes { try mapping.read(at: 5 * page, into: $0) }
            print("read succeeded")
        } catch {
            if let error = error as? DaxError { print("read-error \(error.code)") } else { print("read-error \(error)") }
        }
        print("chained-by-fault \(cdaxmap_events_chained() - chained)")
        print("recorder-after-fault \(cdaxmap_test_recorded())")
        let base = mapping.withUnsafeMutableBytes { $0.baseAddress! }
        _ = cdaxmap_test_forge_signal(SIGBUS, -1 /* SI_QUEUE */, base, 0)
        print("recorder-after-forged \(cdaxmap_test_recorded())")
    } catch {
        complain("setup failed: \(error)\n")
        exit(2)
    }
}

/// A removal of a mapped emulated device (daxmap logs "removal started" and
/// "removal completed" at `.notice`). Returns, so its frame is released (see displacedHandler).
func loggedRemoval() async {
    do {
        let (device, mapping) = try patternedMapping(pages: 4)
        let report = await device.beginRemoval(deadline: .seconds(30))
        print("removed \(report.mappingsRevoked + report.mappingsReleased)")
        withExtendedLifetime(mapping) {}
    } catch {
        complain("setup failed: \(error)\n")
        exit(2)
    }
}

/// A holder that releases on `preRemove` and tells the main thread, which then
/// exits at once: a service that ends as soon as its device is retired.
final class ExitingHolder: DaxHolder, Sendable {
    let signal: Int32
    init(signal: Int32) { self.signal = signal }

    func notifyFailure(_ failure: DaxFailure) async -> Bool {
        guard failure.kind == .preRemove else { return true }
        for m in failure.mappings { m.close() }
        var byte: UInt8 = 1
        _ = write(signal, &byte, 1) // a pipe with room: the main thread reads it
        return true
    }
}

/// Threads of this process whose name starts with `prefix` (`/proc/self/task/*/comm`).
func threads(named prefix: String) -> Int {
    guard let d = opendir("/proc/self/task") else { return -1 }
    defer { closedir(d) }
    var n = 0
    while let e = readdir(d) {
        let tid = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard tid.first != "." else { continue }
        let fd = open("/proc/self/task/\(tid)/comm", O_RDONLY)
        guard fd >= 0 else { continue }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(fd, &buffer, buffer.count)
        close(fd)
        if count > 0, String(decoding: buffer.prefix(count), as: UTF8.self).hasPrefix(prefix) { n += 1 }
    }
    return n
}

/// Sockets of this process bound to its retire channel's name (bound through its checked
/// directory's descriptor: `/proc/self/fd/N/PID`), from /proc/net/unix.
func retireSockets() -> Int {
    let fd = open("/proc/net/unix", O_RDONLY)
    guard fd >= 0 else { return -1 }
    defer { close(fd) }
    var text: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        text += buffer.prefix(n)
    }
    return String(decoding: text, as: UTF8.self).split(separator: "\n").filter { line in
        guard let path = line.split(separator: " ").last else { return false }
        return path.hasPrefix("/proc/self/fd/") && path.hasSuffix("/\(getpid())")
    }.count
}

/// What the runtime has started, on one line (`tasks`: every thread of the process).
func runtimeState(_ label: String) {
    let parts = DaxRuntime.process.madeParts.map(\.rawValue).joined(separator: ",")
    print("\(label) tasks \(threads(named: "")) sockets \(retireSockets()) listening \(DaxRuntime.process.retireListening) retire-threads \(threads(named: "daxmap-retire")) monitor-threads \(threads(named: "daxmap-monitor")) parts [\(parts)]")
}

/// Runs `body(i)` on `count` threads of their own, released together.
final class Racer: @unchecked Sendable {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
func race(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    var threads: [pthread_t] = []
    let ready = Counter()
    for i in 0..<count {
        let racer = Racer {
            ready.value.add(1, ordering: .relaxed)
            while ready.value.load(ordering: .relaxed) < count { sched_yield() }
            body(i)
        }
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            Unmanaged<Racer>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, Unmanaged.passRetained(racer).toOpaque())
        precondition(rc == 0, "pthread_create: \(rc)")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// Opening (and closing) devices starts nothing process-wide; the first
/// mappings, racing on 8 threads, start each part once.
func lazyRuntime() {
    runtimeState("start")
    do {
        let closed = try DaxDevice.createEmulated(at: dir + "/closed", size: UInt64(4 * page))
        let openMappings = closed.openMappings.count
        closed.close()
        let kept = try DaxDevice.createEmulated(at: dir + "/kept", size: UInt64(4 * page))
        print("open-mappings \(openMappings) lifecycle \(kept.lifecycle)")
        runtimeState("opened")
        let mapped = Counter()
        let (base, pageSize) = (dir, page)
        race(8) { i in
            do {
                let device = try DaxDevice.createEmulated(at: base + "/dev\(i)", size: UInt64(4 * pageSize))
                let mapping = try device.map(length: UInt64(pageSize))
                mapped.value.add(1, ordering: .relaxed)
                mapping.close()
                device.close()
            } catch {
                complain("map \(i) failed: \(error)\n")
            }
        }
        print("mapped \(mapped.value.load(ordering: .relaxed))")
        // A thread names itself once it runs: wait (bounded) for both to show.
        for _ in 0..<1000 where threads(named: "daxmap-retire") < 1 || threads(named: "daxmap-monitor") < 1 {
            usleep(10_000)
        }
        runtimeState("after")
        withExtendedLifetime(kept) {}
    } catch {
        complain("setup failed: \(error)\n")
        exit(2)
    }
}

switch mode {
case "exit-after-retire":
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else {
        complain("pipe failed\n")
        exit(2)
    }
    do {
        let device = try DaxDevice.createEmulated(at: dir + "/dev", size: UInt64(4 * page))
        let mapping = try device.map(holder: ExitingHolder(signal: fds[1]))
        print("READY")
        _ = fflush(nil) // read live by the test, from a file
        var byte: UInt8 = 0
        _ = read(fds[0], &byte, 1)
        withExtendedLifetime(mapping) {}
    } catch {
        complain("setup failed: \(error)\n")
        exit(2)
    }
    exit(0)
case "foreign-sigbus-baseline":
    foreignFault()
case "foreign-sigbus":
    do {
        try DaxMonitor.start()
        // A daxmap mapping exists too, so the handler has ranges to compare with.
        let device = try DaxDevice.createEmulated(at: dir + "/dev", size: UInt64(4 * page))
        let mapping = try device.map()
        withExtendedLifetime(mapping) { foreignFault() }
    } catch {
        complain("setup failed: \(error)\n")
        exit(2)
    }
case "terminate":
    do {
        let device = try DaxDevice.createEmulated(at: dir + "/dev", size: UInt64(4 * page))
        let mapping = try device.map(options: .init(faultPolicy: .terminate))
        truncate(dir + "/dev", off_t(page))
        let value = mapping.withUnsafeMutableBytes { $0[2 * page] } // SIGBUS, policy terminate
        print("survived with \(value)")
        exit(0)
    } catch {
        complain("setup failed: \(error)\n")
        exit(2)
    }
case "forged-sigbus":
    forgedSignal()
case "killed-sigbus-runtime", "killed-sigbus-reset", "killed-sigbus-ignore", "killed-sigbus-recorder":
    killedSignal(previous: String(mode.dropFirst("killed-sigbus-".count)))
case "thread-limit":
    await threadLimit() // then return from main: the continuation needs a thread of the runtime's
case "displaced-handler":
    await displacedHandler()
    exit(0)
case "thresholds":
    // The non-temporal thresholds this process's environment gives: the default, and
    // what a page-granularity mapping uses.
    let (_, mapping) = try patternedMapping(pages: 4)
    print("default \(DaxMapping.Options.defaultNonTemporalThreshold) page \(mapping.nonTemporalThreshold)")
    exit(0)
case "stream-log-notice", "stream-log-daxlogging":
    // An application that bootstraps swift-log's StreamLogHandler itself: at
    // `.notice`, or as swift-log's default is made but through DaxLogging.
    if mode == "stream-log-notice" {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .notice
            return handler
        }
    } else {
        DaxLogging.bootstrap(StreamLogHandler.standardError)
    }
    await loggedRemoval()
    exit(0)
case "lazy-runtime":
    lazyRuntime()
    exit(0)
case "channel-unavailable":
    // Run where no retire directory can be had (another uid without /run/user/UID):
    // the channel's failure is an event (to a stream made before the first mapping) and a count.
    let events = DaxMonitor.events()
    do {
        let device = try DaxDevice.createEmulated(at: dir + "/dev", size: UInt64(4 * page))
        let mapping = try device.map()
        var seen = "none"
        for await event in events {
            if case .retireChannelUnavailable(let reason) = event { seen = reason; break }
        }
        print("event \(seen)")
        print("failures \(DaxRetirement.channelFailures) reason \(DaxRetirement.channelFailureReason ?? "none")")
        withExtendedLifetime((device, mapping)) {}
    } catch {
        complain("setup failed: \(error)\n")
        exit(1)
    }
    exit(0)
default:
    complain("unknown mode \(mode)\n")
    exit(2)
}
