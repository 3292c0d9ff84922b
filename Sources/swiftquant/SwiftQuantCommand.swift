import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftQuant
import SwiftQuantBench

/// The `swiftquant` command line.
///
/// Every failure, whether a bad argument, a bad file or a bad config, ends as exactly one
/// line on stderr and exit status 1; help and version go to stdout with status 0.
@main
struct SwiftQuantCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftquant",
        abstract: "Convert model checkpoints to compact INT8 checkpoints, and inspect, verify and export them.",
        version: swiftQuantVersion,
        subcommands: [Inspect.self, Plan.self, Convert.self, Verify.self, Export.self, Bench.self, Generate.self]
    )

    static func main() async {
        do {
            var command = try Root.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(reporting: error)
        }
    }

    /// Prints `error` as one line and exits; help, version and clean exits pass through.
    static func exit(reporting error: Error) -> Never {
        let code = Root.exitCode(for: error)
        if code == .success || error is CleanExit {
            Root.exit(withError: error)
        }
        if let exitCode = error as? ExitCode {
            terminateProcess(exitCode.rawValue)
        }
        // ArgumentParser renders its own errors and falls back to `description` for ours.
        let message = Root.message(for: error)
        let firstLine = message.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? "failed"
        printToStandardError("swiftquant: error: \(withCommandLineHint(firstLine, for: error))")
        terminateProcess(1)
    }
}

/// The parsable root; `SwiftQuantCommand.main` drives it so errors stay one line.
struct Root: ParsableCommand {
    static let configuration = SwiftQuantCommand.configuration
}

/// Writes one line to stderr.
func printToStandardError(_ line: String) {
    var text = line
    if !text.hasSuffix("\n") { text += "\n" }
    writeToStandardError(text)
}

/// Writes `text` to stderr unbuffered, as it is (the progress bars redraw in place with it).
func writeToStandardError(_ text: String) {
    _ = text.withCString { write(2, $0, strlen($0)) }
}

/// Ends the process with `code` through the C library's `exit`, which flushes stdout; a free
/// function because inside a command type `exit` names ArgumentParser's static method.
func terminateProcess(_ code: Int32) -> Never {
    exit(code)
}
