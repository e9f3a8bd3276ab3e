import Glibc
import Synchronization
import Testing
@testable import DaxMap
import DaxMapSync

private final class RaceCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// The process-wide parts (``DaxRuntime``): nothing starts when a device is
/// opened; each part is made once, at its first use, however many threads race.
@Suite struct RuntimeTests {
    /// One line of the probe's `lazy-runtime` output, by field.
    private struct State {
        var fields: [String: String] = [:]
        var parts: [String] = []
        init?(_ output: String, _ label: String) {
            guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(label + " ") }) else { return nil }
            let words = line.split(separator: " ").map(String.init)
            var i = 1
            while i + 1 < words.count {
                fields[words[i]] = words[i + 1]
                i += 2
            }
            let list = fields["parts"]?.dropFirst().dropLast() ?? ""
            parts = list.split(separator: ",").map(String.init)
        }
        func int(_ key: String) -> Int? { fields[key].flatMap { Int($0) } }
    }

    /// In a process of its own (this one has mapped devices in other suites):
    /// opening, closing and keeping a device open bind no retire socket, start
    /// no thread and make no part; 8 threads' first mappings at once start one
    /// monitor thread, one retire listener and one socket, each part made once.
    @Test func openingStartsNothingAndTheFirstMappingsStartEachPartOnce() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let result = runProgram([buildDirectory + "/daxmap-probe", "lazy-runtime", dir.path])
        #expect(result.status == 0, "\(result)")
        let start = try #require(State(result.stdout, "start"), "\(result)")
        let opened = try #require(State(result.stdout, "opened"), "\(result)")
        let after = try #require(State(result.stdout, "after"), "\(result)")

        #expect(result.stdout.contains("open-mappings 0 lifecycle alive"), "\(result.stdout)")
        for state in [start, opened] {
            #expect(state.int("sockets") == 0 && state.fields["listening"] == "false", "\(state.fields)")
            #expect(state.int("retire-threads") == 0 && state.int("monitor-threads") == 0, "\(state.fields)")
            #expect(state.parts.isEmpty, "\(state.parts)")
        }
        #expect(opened.int("tasks") == start.int("tasks"), "opening started a thread: \(start.fields) → \(opened.fields)")

        #expect(result.stdout.contains("mapped 8"), "\(result)")
        #expect(after.int("sockets") == 1 && after.fields["listening"] == "true", "\(after.fields)")
        #expect(after.int("retire-threads") == 1 && after.int("monitor-threads") == 1, "\(after.fields)")
        #expect(Set(after.parts).isSuperset(of: ["registry", "faultMonitor", "retireChannel"]), "\(after.parts)")
        #expect(after.parts.count == Set(after.parts).count, "a part made twice: \(after.parts)")
    }

    /// A runtime of its own, its parts asked for by 8 threads at once: each is
    /// made once, and every thread gets that one.
    @Test func eachPartIsMadeOnceUnderConcurrentFirstUse() {
        for _ in 0..<20 {
            let runtime = DaxRuntime()
            let seen = Locked<[[ObjectIdentifier]]>([])
            let ready = RaceCounter(), done = RaceCounter()
            let threads = 8
            for _ in 0..<threads {
                let started = DetachedThread.start(name: "runtime-test") {
                    ready.value.add(1, ordering: .relaxed)
                    while ready.value.load(ordering: .relaxed) < threads { sched_yield() }
                    let ids = [ObjectIdentifier(runtime.registry), ObjectIdentifier(runtime.events),
                               ObjectIdentifier(runtime.monitor), ObjectIdentifier(runtime.retireChannel),
                               ObjectIdentifier(runtime.holderExecutor), ObjectIdentifier(runtime.copyEngine)]
                    seen.withLock { $0.append(ids) }
                    done.value.add(1, ordering: .releasing)
                }
                #expect(started)
            }
            while done.value.load(ordering: .acquiring) < threads { sched_yield() }
            let all = seen.withLock { $0 }
            #expect(all.count == threads && all.allSatisfy { $0 == all[0] }, "threads saw different parts")
            let made = runtime.madeParts
            #expect(made.count == DaxRuntime.Part.allCases.count && Set(made) == Set(DaxRuntime.Part.allCases), "\(made)")
            // Made is not started: a runtime's parts start nothing until asked.
            #expect(!runtime.retireListening)
        }
    }
}
