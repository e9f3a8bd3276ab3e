import ArgumentParser

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Not yet built.")
    func run() async throws { throw ExitCode.failure }
}
