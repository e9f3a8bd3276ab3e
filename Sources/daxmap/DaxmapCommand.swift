import ArgumentParser

@main
struct DaxmapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daxmap",
        abstract: "Map DAX memory and survive its failures.",
        subcommands: [ListCommand.self, InfoCommand.self, DemoCommand.self, WatchCommand.self,
                      HoldCommand.self, VerifyCommand.self, PoisonCommand.self, MapCheckCommand.self,
                      InjectCommand.self, ScrubCommand.self, HoldersCommand.self, RetireCommand.self,
                      CrashTestCommand.self]
    )
}
