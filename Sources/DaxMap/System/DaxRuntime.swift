internal import DaxMapSync
import Synchronization

/// daxmap's process-wide parts, and the one place that says what they are and
/// when each starts. Nothing here runs at load time or when a device is opened:
/// each part is made at its first use, once, whichever threads race for it.
///
///     registry        ← the first mapping (or a question about mappings)
///     event hub       ← the first stream asked for (events before it go nowhere)
///     fault monitor   ← the first mapping, DaxMonitor.start or .watch: the
///                       SIGBUS handler, then the `daxmap-monitor` thread
///     retire channel  ← a device's enrolment (below): binds /run/daxmap/<uid>/<pid>
///                       and starts the `daxmap-retire` listener
///     holder executor ← the first holder call (threads grow with the calls)
///     copy engine     ← the first copy split across threads
///
/// A device joins once, at its first mapping or ``DaxMonitor/watch(_:)``
/// (``enroll(_:)``): a device only opened (`daxmap info`, `list`) starts
/// nothing, and a process that never maps binds no socket.
package final class DaxRuntime: Sendable {
    /// The parts, by name (for tests and diagnostics).
    package enum Part: String, Sendable, CaseIterable {
        case registry, eventHub, faultMonitor, retireChannel, holderExecutor, copyEngine
    }

    /// The process's runtime: the one the library uses.
    package static let process = DaxRuntime()

    private let made = Locked<[Part]>([])
    private let registryPart: RuntimePart<MappingRegistry>
    private let eventHubPart: RuntimePart<EventHub>
    private let monitorPart: RuntimePart<FaultMonitor>
    private let retirePart: RuntimePart<RetireChannel>
    private let holderPart: RuntimePart<HolderExecutor>
    private let copyPart: RuntimePart<CopyEngine>

    /// A runtime of its own (tests make one to watch its parts being made);
    /// the library uses ``process``. Parts find the others through ``process``.
    init() {
        let made = self.made
        func part<T>(_ name: Part, _ make: @escaping @Sendable () -> T) -> RuntimePart<T> {
            RuntimePart {
                defer { made.withLock { $0.append(name) } }
                return make()
            }
        }
        registryPart = part(.registry) { MappingRegistry() }
        eventHubPart = part(.eventHub) { EventHub() }
        monitorPart = part(.faultMonitor) { FaultMonitor() }
        retirePart = part(.retireChannel) { RetireChannel() }
        holderPart = part(.holderExecutor) { HolderExecutor() }
        copyPart = part(.copyEngine) { CopyEngine() }
    }

    /// Which mapping is whose (made at the first use).
    package var registry: MappingRegistry { registryPart.value }
    /// Where events leave daxmap (made at the first use).
    var events: EventHub { eventHubPart.value }
    /// The monitor, made but not started: ``startMonitor()`` starts it.
    var monitor: FaultMonitor { monitorPart.value }
    /// The retire channel, made but not listening: ``enroll(_:)`` registers devices.
    var retireChannel: RetireChannel { retirePart.value }
    /// Where holder calls run.
    var holderExecutor: HolderExecutor { holderPart.value }
    /// The copy workers of large writes and fills.
    var copyEngine: CopyEngine { copyPart.value }

    /// The event hub if anything made it: publishing or finishing streams
    /// nobody asked for need not make it.
    var eventsIfMade: EventHub? { eventHubPart.ifMade }

    /// The parts made so far, in the order they were made.
    package var madeParts: [Part] { made.withLock { $0 } }

    /// Installs the SIGBUS handler and starts the monitor thread, once.
    func startMonitor() throws(DaxError) { try monitor.start() }

    /// What a device needs once it is used, not merely opened: its first
    /// mapping or a ``DaxMonitor/watch(_:)``. In this order: the signal handler
    /// and monitor (before any mapping of it exists), removal uevents for it,
    /// then the retire channel — bound before the caller checks for a planned
    /// removal, so a retire that begins after that check finds this process
    /// listening. Idempotent; the first call per device does the work.
    func enroll(_ device: DaxDevice) throws(DaxError) {
        guard !device.enrolled.load(ordering: .acquiring) else { return }
        try startMonitor()
        monitor.watch(device)
        retireChannel.register(device)
        device.enrolled.store(true, ordering: .releasing)
    }

    /// A device closed or deinitialised: the parts that know it forget it.
    func withdraw(_ device: DaxDevice) {
        guard device.enrolled.load(ordering: .acquiring) else { return }
        monitorPart.ifMade?.forget(device)
    }

    /// Whether the retire channel listens (for tests: opening a device must not make it).
    package var retireListening: Bool { retirePart.ifMade?.isListening ?? false }
}
