import ArgumentParser

// Placeholder until its issue lands: the subcommand exists so that the CLI structure is fixed.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Not built yet.")
    func run() throws { throw ValidationError("'export' is not built yet") }
}
