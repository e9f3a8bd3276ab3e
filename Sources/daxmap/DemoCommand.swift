import ArgumentParser

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Not yet built.")
    func run() async throws { throw ExitCode.failure }
}
