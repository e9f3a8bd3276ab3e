import ArgumentParser

@main
struct DaxmapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daxmap",
        abstract: "Map DAX memory and survive its failures.",
        // The operator's tools first; the workloads and tests (which write to the
        // device or a file) apart, so nobody runs one for the other.
        groupedSubcommands: [
            CommandGroup(name: "Operator", subcommands: [
                ListCommand.self, InfoCommand.self, WatchCommand.self, HoldersCommand.self,
                RetireCommand.self, ScrubCommand.self, InjectCommand.self,
            ]),
            CommandGroup(name: "Workload and test", subcommands: [
                HoldCommand.self, VerifyCommand.self, DemoCommand.self, PoisonCommand.self,
                MapCheckCommand.self, CrashTestCommand.self,
            ]),
        ]
    )
}
