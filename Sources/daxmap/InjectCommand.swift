import ArgumentParser
import DaxMap
import DaxMapTesting

/// Injects failures into an emulated device's persisted state (its sidecar),
/// so the next process that maps the device meets them as real SIGBUS.
struct InjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inject",
        abstract: "Inject a media failure or removed memory into an emulated device, or clear injected failures.",
        discussion: """
            The failure is persisted next to the device (PATH.daxmap-injected) and shows in its badblocks; \
            every process that maps the range afterwards gets a real SIGBUS there the next time it touches it, \
            reported as the injected kind. Prints the device's injected failures after the change. \
            Exit 0 on success, 1 on an error (a device that cannot be opened, a range the device \
            refuses), 64 on bad arguments (a --offset or --length that is not a byte count, an unknown \
            --kind, no --offset). \
            Emulated devices only: on device-dax and DAX files use 'daxmap poison' (MADV_HWPOISON) or ndctl inject-error.
            """)

    @Argument(help: "An emulated device (a plain file).")
    var path: String

    @Option(parsing: .unconditional, help: "Device offset, a multiple of the page size (decimal or 0x hex, K/M/G suffixes).")
    var offset: String?

    @Option(parsing: .unconditional, help: "Bytes, a multiple of the page size (default: one page).")
    var length: String?

    @Option(help: "media (poison: a memory failure) or removed (no memory behind the range).")
    var kind: String = "media"

    @Flag(help: "Clear what was injected at --offset (and --length), or everything without --offset.")
    var clear = false

    @Flag(help: "Print JSON.")
    var json = false

    /// The options checked before the device is touched: a bad one exits 64, as for every command.
    private func arguments() throws(DaxError) -> (kind: DaxInjectedFailure.Kind?, offset: UInt64?, length: UInt64?) {
        var at: UInt64?, bytes: UInt64?
        if let offset { at = try parseBytes(offset, option: "--offset", operation: "inject", path: path) }
        if let length { bytes = try parseBytes(length, option: "--length", operation: "inject", path: path) }
        if clear {
            guard at != nil || bytes == nil else {
                throw DaxError(.invalidArgument, operation: "clear", path: path, message: "--length needs --offset")
            }
            return (nil, at, bytes)
        }
        guard let kind = DaxInjectedFailure.Kind(rawValue: kind) else {
            throw DaxError(.invalidArgument, operation: "inject", path: path,
                           message: "--kind '\(kind)' is not one of media, removed")
        }
        guard at != nil else {
            throw DaxError(.invalidArgument, operation: "inject", path: path, message: "--offset is required (or --clear)")
        }
        return (kind, at, bytes)
    }

    func run() throws {
        let parsed: (kind: DaxInjectedFailure.Kind?, offset: UInt64?, length: UInt64?)
        do { parsed = try arguments() } catch { throw usageError(error) }
        let device: DaxDevice
        // Read-only: injection changes the sidecar, never the device's bytes.
        do { device = try DaxDevice.open(path, options: .init(requiredGranularity: .page, readOnly: true)) } catch { throw fail(error) }
        defer { device.close() }
        let now: [DaxInjectedFailure]
        var changed: [DaxInjectedFailure] = []
        do {
            let injector = try DaxFaultInjector(device)
            if clear {
                if let at = parsed.offset {
                    changed = try injector.clear(offset: at, length: parsed.length)
                } else {
                    changed = try injector.clearAll()
                }
            } else if let kind = parsed.kind, let at = parsed.offset {
                changed = [try injector.inject(kind, offset: at, length: parsed.length)]
            }
            now = try injector.injected()
        } catch { throw fail(asDaxError(error)) }
        if json {
            printLine(JSON.object([
                ("device", .string(device.path)),
                (clear ? "cleared" : "injected", .array(changed.map(\.json))),
                ("failures", .array(now.map(\.json))),
            ]).rendered(pretty: false))
        } else {
            for f in changed { printLine("\(clear ? "cleared" : "injected") \(f) on \(device.path)") }
            if clear && changed.isEmpty { printLine("nothing was injected there") }
            printLine(now.isEmpty ? "no injected failures" : "injected failures: " + now.map(\.description).joined(separator: ", "))
        }
    }
}

extension DaxInjectedFailure {
    var json: JSON {
        .object([("offset", .uint(range.lowerBound)), ("length", .uint(UInt64(range.count))), ("kind", .string(kind.rawValue))])
    }
}
