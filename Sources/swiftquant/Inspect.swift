import ArgumentParser

// Placeholder until its issue lands: the subcommand exists so that the CLI structure is fixed.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Not built yet.")
    func run() throws { throw ValidationError("'inspect' is not built yet") }
}
