import ArgumentParser

// Placeholder until its issue lands: the subcommand exists so that the CLI structure is fixed.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Not built yet.")
    func run() throws { throw ValidationError("'verify' is not built yet") }
}
