import ArgumentParser
import DaxMap

extension DaxRetirement.Removal: ExpressibleByArgument {}

/// `daxmap retire`: a planned removal across every process of the host.
struct RetireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retire",
        abstract: "Drain a device from every process (holders first), then remove it.",
        discussion: """
            Freezes PATH (a /dev/daxX.Y, a /dev/pmemN, a mount point, or a DAX or emulated file) for every \
            daxmap process, finds every process that maps it or has it open, asks each daxmap process to \
            notify its holders (preRemove, source 'operator') and let go, waits up to --deadline seconds, \
            then removes it as --then says, and unfreezes. Processes that do not run daxmap are named, \
            never killed. Exit 0 when everything was released (and removed, if asked); 2 when processes \
            still hold it or refused the request; 3 when the removal failed or is left to the operator; \
            4 when nothing was seen still holding it but some processes could not be inspected (other \
            users' processes, without privilege: run as root), so release is not claimed; \
            1 on other errors; 64 on bad arguments.
            """)

    @Argument(help: "The device, mount point or file to retire.")
    var path: String

    // Unconditional: '--deadline -1' reaches validate() and is refused there, with the reason.
    @Option(parsing: .unconditional, help: "Seconds holders have to let go (0 to 86400).")
    var deadline: String = "10"

    @Option(help: "What to do once nobody holds it: none, disable (device-dax), unbind (sysfs; refused under a mounted file system) or unmount-unbind (unmount the file system first, then unbind: the order that avoids the fsdax removal defects of 6.1 and 7.2).")
    var then: DaxRetirement.Removal = .none

    @Flag(help: "Print one JSON object instead of the summary.")
    var json = false

    /// The deadline, or nil when it is not a number of seconds from 0 to a day.
    static func seconds(_ text: String) -> Double? {
        guard let value = Double(text), value.isFinite, value >= 0, value <= 86_400 else { return nil }
        return value
    }

    func validate() throws {
        guard Self.seconds(deadline) != nil else {
            throw ValidationError("--deadline must be a number of seconds from 0 to 86400, not '\(deadline)'")
        }
    }

    func run() async throws {
        let deadline = Duration.milliseconds(Int64(Self.seconds(self.deadline)! * 1000))
        let report: DaxRetirementReport
        do throws(DaxError) {
            report = try await DaxRetirement.retire(path: path, deadline: deadline, then: then)
        } catch { throw cliExit(for: error) }
        if json {
            printLine(Self.json(report).rendered(pretty: false))
        } else {
            printLine(report.description)
        }
        switch report.removal {
        case .failed, .leftToOperator: throw ExitCode(3)
        case .notRequested, .removed, .withheld: break
        }
        if !report.stragglers.isEmpty || !report.refused.isEmpty { throw ExitCode(2) }
        if report.unreadableProcesses > 0 { throw ExitCode(Self.notEverythingSeen) }
    }

    /// The exit status when some processes could not be inspected (and nothing worse).
    static let notEverythingSeen: Int32 = 4

    static func json(_ report: DaxRetirementReport) -> JSON {
        .object([
            ("path", .string(report.path)),
            ("processesFound", .int(Int64(report.processesFound))),
            ("processesNotified", .int(Int64(report.processesNotified))),
            ("processesReleased", .int(Int64(report.processesReleased))),
            ("holdersNotified", .int(Int64(report.holdersNotified))),
            ("holdersAnswered", .int(Int64(report.holdersAnswered))),
            ("unansweredHolders", .int(Int64(report.unansweredHolders))),
            ("stragglers", .array(report.stragglers.map(HoldersCommand.json))),
            ("refused", .array(report.refused.map { .int(Int64($0)) })),
            ("unreadableProcesses", .int(Int64(report.unreadableProcesses))),
            ("faultSignals", .uint(report.faultSignals)),
            ("durationMilliseconds", .double(milliseconds(report.duration))),
            ("removal", .string(report.removal.name)),
            ("removalDetail", .string(report.removal.description)),
            ("released", .bool(report.succeeded)),
        ])
    }
}

/// A library error as the CLI reports it: a bad path or argument is a usage error (64).
func cliExit(for error: DaxError) -> ExitCode {
    printError("daxmap: \(error)")
    switch error.code {
    case .notFound, .invalidArgument, .notADaxDevice: return ExitCode(64)
    default: return ExitCode(1)
    }
}
