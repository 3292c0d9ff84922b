import ArgumentParser

// Placeholder until its issue lands: the subcommand exists so that the CLI structure is fixed.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "convert", abstract: "Not built yet.")
    func run() throws { throw ValidationError("'convert' is not built yet") }
}
