import ArgumentParser

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "watch", abstract: "Not yet built.")
    func run() async throws { throw ExitCode.failure }
}
