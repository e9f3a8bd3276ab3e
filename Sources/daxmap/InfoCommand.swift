import ArgumentParser

struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Not yet built.")
    func run() async throws { throw ExitCode.failure }
}
