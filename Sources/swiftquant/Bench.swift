import ArgumentParser

// Placeholder until its issue lands: the subcommand exists so that the CLI structure is fixed.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Not built yet.")
    func run() throws { throw ValidationError("'bench' is not built yet") }
}
