import ArgumentParser
import Foundation
import SwiftQuant
import SwiftQuantBench

/// `swiftquant bench`: kernel throughput, each case compared with a baseline (memcpy of the
/// same bytes) measured in the same run. A benchmark, not a test: it asserts nothing.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure kernel throughput (median over repetitions) against memcpy in the same run.",
        discussion: """
            Each case reports its median time and case-specific fields such as GB/s of input \
            and the ratio to a memcpy of the same bytes, timed round-robin with the kernel so \
            that machine noise affects both alike. Build with -c release before measuring.
            """)

    @Argument(help: ArgumentHelp(
        "Cases to run, by name; all cases when none are given (see --list).", valueName: "case"))
    var cases: [String] = []

    @Flag(help: "Print a JSON array of {\"name\", \"median_seconds\", …} instead of a table.")
    package var json = false

    @Flag(help: "List the available cases with a one-line summary each, and exit.")
    var list = false

    @Option(help: "Timed repetitions per case, after one warm-up; the median is reported.")
    var repetitions = 9

    @Option(help: "Kernel worker threads (default: every online core).")
    var threads: Int?

    @Option(help: ArgumentHelp(
        "The folder holding the models the model cases load (all-MiniLM-L6-v2/…); default: $SWIFTQUANT_MODELS, else ../shared/models or .cache/models from the current directory.",
        valueName: "folder"))
    var models: String?

    func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1, got \(repetitions)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        let known = Set(BenchCase.all.map(\.name))
        if let unknown = cases.first(where: { !known.contains($0) }) {
            throw ValidationError("unknown bench case '\(unknown)'; run 'swiftquant bench --list' to see the cases")
        }
    }

    package func run() throws {
        if list {
            let width = BenchCase.all.map(\.name.count).max() ?? 0
            for benchCase in BenchCase.all {
                print(benchCase.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + benchCase.summary)
            }
            return
        }
        try Parallelism.withThreads(threads) { try runCases() }
    }

    private func runCases() throws {
        let selected = cases.isEmpty ? BenchCase.all : cases.map { name in BenchCase.all.first { $0.name == name }! }
        let context = BenchContext(repetitions: repetitions, modelsFolder: models)
        var results: [(name: String, result: BenchResult)] = []
        for benchCase in selected {
            let result = try benchCase.run(context)
            results.append((benchCase.name, result))
            if !json { print(Self.line(benchCase.name, result)) }
        }
        if json { print(try Self.jsonArray(results)) }
    }

    static func line(_ name: String, _ result: BenchResult) -> String {
        let fields = result.fields.map { "\($0.key)=\($0.value.display)" }.joined(separator: "  ")
        return "\(name)  median \(String(format: "%.2f", result.medianSeconds * 1e3)) ms  isa=\(KernelISA.active.name)  \(fields)"
    }

    static func jsonArray(_ results: [(name: String, result: BenchResult)]) throws -> String {
        let objects = results.map { entry in
            var fields: [String: BenchValue] = [
                "name": .text(entry.name), "median_seconds": .number(entry.result.medianSeconds),
                "isa": .text(KernelISA.active.name),
            ]
            for field in entry.result.fields { fields[field.key] = field.value }
            return fields
        }
        return try objects.jsonText(pretty: true)
    }
}
