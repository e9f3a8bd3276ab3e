import ArgumentParser
import DaxMap
import DaxMapTesting
import Glibc

/// Real poison for harnesses: MADV_HWPOISON one page, then a guarded read there.
struct PoisonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poison",
        abstract: "Poison one page with MADV_HWPOISON (root, CONFIG_MEMORY_FAILURE) and show it caught.",
        discussion: """
            The page's data is lost until the poison is cleared. Exit 0 when the guarded read threw \
            mediaFailure, 1 when it did not or on an error, 4 when the kernel refuses MADV_HWPOISON \
            (the reason is printed; asked before anything is written, so the file is left as it was), 64 on bad arguments. One JSON object with --json, else text.
            """)

    @Argument(help: "A /dev/daxX.Y, a DAX file or a plain file.")
    var path: String

    @Option(help: "Device offset of the page to poison.")
    var offset: UInt64

    @Option(help: "Holders over disjoint slices of the device; only the one holding the page must be told.")
    var holders = 4

    @Flag(help: "Print one JSON object instead of a line of text.")
    var json = false

    @Flag(help: "Poison under a DaxLog instead: format a log over the first 8 MiB, append past the page, poison it, read back and append on; the records the failure hit must be reported lost by sequence number. Needs --force.")
    var log = false

    @Flag(help: "With --log: overwrite the first 8 MiB of PATH.")
    var force = false

    func validate() throws {
        guard holders >= 1 && holders <= 256 else { throw ValidationError("--holders must be between 1 and 256, not \(holders)") }
        if log && !force { throw ValidationError("--log formats a log over the first 8 MiB of \(path), destroying what is there: add --force") }
        if force && !log { throw ValidationError("--force only goes with --log") }
    }

    private func emit(_ fields: [(String, JSON)], text: String) {
        printLine(json ? JSON.object(fields).rendered(pretty: false) : text)
    }

    func run() async throws {
        if log { return try await LogPoison(path: path, offset: offset, json: json).run() }
        // Asked first: where the kernel would refuse, nothing is mapped or written.
        if let refusal = HWPoisonSupport.refusal() {
            emit([("supported", .bool(false)), ("errno", .int(Int64(refusal.errno))), ("reason", .string(refusal.reason))],
                 text: "poison refused: \(refusal.reason)")
            throw ExitCode(4)
        }
        let device: DaxDevice
        var writers: [SliceHolder] = []
        var slice: UInt64 = 0
        do {
            device = try DaxDevice.open(path, options: .init(requiredGranularity: .page))
            slice = device.size / UInt64(holders) / device.alignment * device.alignment
            guard slice > 0, offset < slice * UInt64(holders) else {
                throw DaxError(.outOfRange, operation: "poison", path: path, offset: offset,
                               message: "offset is outside the \(holders) holder slices of \(slice) bytes")
            }
            writers = (0..<holders).map { SliceHolder(index: $0) }
            // 4 KiB pages on DAX files: the kernel cannot poison a 2 MiB fsdax mapping.
            let options = DaxMapping.Options(largePages: false)
            for w in writers { w.adopt(try device.map(offset: UInt64(w.index) * slice, length: slice, holder: w, options: options)) }
        } catch { throw fail(asDaxError(error)) }
        let target = writers[Int(offset / slice)]
        guard let mapping = target.mapping else { throw ExitCode(1) }
        let within = Int(offset - mapping.offset)
        // Give the page real blocks first: a hole in a DAX file reads as the shared
        // zero page, which is not the device's memory and cannot be poisoned. Its bytes stay.
        do { try HWPoisonSupport.makeReal(mapping, at: within) } catch { throw fail(error) }
        switch mapping.injectMemoryFailure(at: within) {
        case .unsupported(let errno):
            let why = errno == .invalidArgument
                ? "this kernel refuses MADV_HWPOISON (\(errno)): it has no CONFIG_MEMORY_FAILURE, or the page cannot be poisoned"
                : errno == .notPermitted ? "MADV_HWPOISON needs root (CAP_SYS_ADMIN) (\(errno))" : "MADV_HWPOISON was refused (\(errno))"
            emit([("supported", .bool(false)), ("errno", .int(Int64(errno.rawValue))), ("reason", .string(why))],
                 text: "poison refused: \(why)")
            throw ExitCode(4)
        case .notRaised, .caught:
            break
        }
        // The guarded read of the poisoned page must throw, not crash.
        var buffer = [UInt8](repeating: 0, count: 64)
        var caught: DaxError?
        do { try buffer.withUnsafeMutableBytes { try mapping.read(at: within, into: $0) } } catch { caught = asDaxError(error) }
        try? await Task.sleep(for: .milliseconds(300))
        let told = writers.filter { w in
            w.notifications.contains { $0.kind == .memoryFailureActionRequired || $0.kind == .memoryFailureActionOptional }
        }.map { JSON.int(Int64($0.index)) }
        let length = caught?.length ?? 0
        let summary = caught.map { "poisoned device offset \(offset): guarded read threw \($0.code) (\($0.message)); holders told: \(told.map { $0.rendered() }.joined(separator: ", "))" }
            ?? "poisoned device offset \(offset): the guarded read did not throw"
        emit([
            ("supported", .bool(true)),
            ("caught", .bool(caught?.code == .mediaFailure)),
            ("code", caught.map { .string($0.code.name) } ?? .null),
            ("offset", caught?.offset.map { .uint($0) } ?? .null),
            ("length", .uint(length)),
            ("addrLsb", .int(length > 0 ? Int64(length.trailingZeroBitCount) : 0)),
            ("holdersNotified", .array(told)),
            ("holderOfPage", .int(Int64(target.index))),
            ("message", caught.map { .string($0.message) } ?? .null),
        ], text: summary)
        if caught?.code != .mediaFailure { throw ExitCode(1) }
    }
}
