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
            many holders it has. Processes of other users are only seen as root: when some could not be \
            inspected, it says how many and exits 4 (the listing may be incomplete). Exit 0, 1 on an \
            error, 64 on bad arguments (a missing PATH among them).
            """)

    @Argument(help: "The device, mount point or file.")
    var path: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let listing: DaxHolderListing
        do throws(DaxError) { listing = try DaxRetirement.listHolders(path: path) } catch {
            // The library names its retire machinery; the operator ran `holders`.
            var error = error
            error.operation = "holders"
            throw cliExit(for: error)
        }
        let processes = listing.processes, unseen = listing.unreadableProcesses
        if json {
            printLine(JSON.object([("path", .string(path)), ("processes", .array(processes.map(Self.json))),
                                   ("unreadableProcesses", .int(Int64(unseen))), ("complete", .bool(unseen == 0))])
                .rendered(pretty: false))
        } else {
            if processes.isEmpty {
                printLine(unseen == 0 ? "\(path): nobody maps it or has it open"
                                      : "\(path): no visible process maps it or has it open")
            }
            for p in processes { printLine(p.description) }
            if unseen > 0 {
                printLine("\(unseen) process(es) of other users were not visible (their maps cannot be read without privilege); run as root to see every holder")
            }
        }
        if unseen > 0 { throw ExitCode(RetireCommand.notEverythingSeen) }
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
