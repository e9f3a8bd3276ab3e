import ArgumentParser
import DaxMap

/// `daxmap holders`: who maps or holds a device, host-wide.
struct HoldersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "holders",
        abstract: "List the processes that map a device or have it open.",
        discussion: """
            PATH is a /dev/daxX.Y, a /dev/pmemN, a mount point, or a DAX or emulated file. For each \
            process: pid, command, bytes and ranges mapped, descriptors, whether it runs daxmap and how \
            many holders it has. Processes of other users are only seen as root. Exit 0, 1 on an error, 64 on bad arguments (a missing PATH among them).
            """)

    @Argument(help: "The device, mount point or file.")
    var path: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let processes: [DaxHolderProcess]
        do throws(DaxError) { processes = try DaxRetirement.holders(path: path) } catch {
            // The library names its retire machinery; the operator ran `holders`.
            var error = error
            error.operation = "holders"
            throw cliExit(for: error)
        }
        if json {
            printLine(JSON.object([("path", .string(path)), ("processes", .array(processes.map(Self.json)))])
                .rendered(pretty: false))
            return
        }
        if processes.isEmpty { printLine("\(path): nobody maps it or has it open") }
        for p in processes { printLine(p.description) }
    }

    static func json(_ p: DaxHolderProcess) -> JSON {
        .object([
            ("pid", .int(Int64(p.pid))),
            ("command", .string(p.command)),
            ("bytesMapped", .uint(p.bytesMapped)),
            ("ranges", .array(p.mappedRanges.map { .string("0x\(String($0.lowerBound, radix: 16))-0x\(String($0.upperBound, radix: 16))") })),
            ("descriptors", .int(Int64(p.descriptors))),
            ("daxmap", .bool(p.runsDaxmap)),
            ("holders", p.holders.map { .int(Int64($0)) } ?? .null),
        ])
    }
}
