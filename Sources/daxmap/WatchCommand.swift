import ArgumentParser
import DaxMap
import Glibc
import Synchronization

/// Live events until interrupted.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print live events: faults, kernel uevents, holder notifications, removals. Ctrl-C stops.",
        discussion: "SIGINT (Ctrl-C) or SIGTERM stops it: it prints how many events it saw and exits 0. Exit 1 on an error, 64 on bad arguments.")

    @Argument(help: "A device or file to open and watch for removal (optional).")
    var path: String?

    @Flag(help: "One JSON object per line.")
    var json = false

    func run() async throws {
        let seen = Atomic<Int>(0)
        let json = self.json
        SignalStop.install { sig in
            let n = seen.load(ordering: .relaxed)
            printLine(json ? JSON.object([("event", .string("stopped")), ("signal", .int(Int64(sig))), ("events", .int(Int64(n)))]).rendered(pretty: false)
                : "stopped by \(sig == SIGINT ? "SIGINT" : "SIGTERM"): \(n) events")
            return 0
        }
        var device: DaxDevice?
        do {
            try DaxMonitor.start()
            if let path {
                let opened = try DaxDevice.open(path, options: .init(requiredGranularity: .page))
                try DaxMonitor.watch(opened)
                device = opened
            }
        } catch { throw fail(error) }
        let stats = DaxMonitor.statistics
        if !json {
            printLine("watching\(path.map { " " + $0 } ?? ""): uevents \(stats.ueventsAvailable ? "from netlink" : "unavailable, polling sysfs"); Ctrl-C to stop")
        }
        let clock = ContinuousClock()
        let start = clock.now
        for await event in DaxMonitor.events() {
            seen.add(1, ordering: .relaxed)
            let ms = milliseconds(clock.now - start)
            if json {
                printLine(JSON.object([("ms", .double(ms)), ("event", .string(kind(of: event))),
                                       ("text", .string(event.description))]).rendered(pretty: false))
            } else {
                printLine("\(Int(ms)) ms  \(event)")
            }
        }
        withExtendedLifetime(device) {}
    }

    private func kind(of event: DaxMonitorEvent) -> String {
        switch event {
        case .uevent: "uevent"
        case .faultsDropped: "faultsDropped"
        case .handlerDisplaced: "handlerDisplaced"
        case .retireChannelUnavailable: "retireChannelUnavailable"
        case .device(_, let e):
            switch e {
            case .fault: "fault"
            case .notified: "notified"
            case .answered: "answered"
            case .removalStarted: "removalStarted"
            case .removalCompleted: "removalCompleted"
            case .returned: "returned"
            }
        }
    }
}
