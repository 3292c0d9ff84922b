import ArgumentParser

// Placeholder until its issue lands: the subcommand exists so that the CLI structure is fixed.
struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Not built yet.")
    func run() throws { throw ValidationError("'plan' is not built yet") }
}
