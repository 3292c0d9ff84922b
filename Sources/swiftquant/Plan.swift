import ArgumentParser
import Foundation
import SwiftQuant
import SwiftQuantBench

/// `swiftquant plan`: what `convert` would do with each tensor, and which rule decided it.
struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what convert would do with each tensor, and which rule decided it.",
        discussion: """
            Rules come from --config and the shortcuts below; convert uses the same engine, so the \
            plan is what convert does. Rules that decide no tensor are warned about on stderr. \
            --measure quantizes each tensor in memory (nothing is written) to report its SNR and \
            max abs error, and applies min_snr_db fallbacks as convert would.
            """)

    @Argument(help: "A safetensors file, a sharded safetensors folder, a GGUF file or a SwiftQuant checkpoint.")
    var input: String

    @OptionGroup var rules: RuleOptions

    @Flag(help: "Print JSON: {\"tensors\": [...], \"unused_rules\": [...]}.")
    package var json = false

    @Flag(help: "Quantize each tensor in memory and report its SNR and max abs error.")
    var measure = false

    @Option(help: ArgumentHelp("The output the plan is for: native (default) or gguf (Q8_0, with llama.cpp's never-quantize list).", valueName: "format"))
    var format: String?

    @Option(help: ArgumentHelp("general.architecture for --format gguf (default: a GGUF input's own).", valueName: "name"))
    var arch: String?

    func validate() throws {
        if let format, FormatRegistry.standard.outputFormat(named: format) == nil {
            let names = FormatRegistry.standard.outputFormatNames.map { "'\($0)'" }
            throw ValidationError("The value '\(format)' is invalid for '--format <format>'. Please provide one of \(names.dropLast().joined(separator: ", ")) and \(names.last ?? "").")
        }
    }

    package func run() throws {
        let config = try rules.makeConfig()
        let progress = ProgressLine()
        let target: PlanTarget = format == "gguf" ? .gguf(architecture: arch) : .anyFormat
        let report = try SwiftQuant.plan(input: input, rules: config, measure: measure, target: target) { position, count, name in
            progress.show(position, of: count, name)
        }
        progress.finish()
        let text = json ? try report.jsonText(pretty: true) + "\n" : textReport(report)
        FileHandle.standardOutput.write(Data(text.utf8))
        rules.warnAboutUnusedRules(in: report.plan)
        if let first = report.failures.first {
            throw PlanCommandError.cannotQuantize(count: report.failures.count, first: "\(first)")
        }
    }

    // MARK: Output

    private func textReport(_ report: PlanReport) -> String {
        let rows = report.tensors
        let storedWidth = max(9, rows.map(\.stored.count).max() ?? 0)
        let nameWidth = max(6, rows.map(\.decision.tensor.name.count).max() ?? 0)
        func pad(_ text: String, _ width: Int) -> String {
            text + String(repeating: " ", count: max(0, width - text.count))
        }
        func padLeft(_ text: String, _ width: Int) -> String {
            String(repeating: " ", count: max(0, width - text.count)) + text
        }
        var lines: [String] = []
        var header = pad("ACTION", 9) + pad("STORED AS", storedWidth + 2)
        if measure { header += padLeft("SNR dB", 8) + padLeft("MAX ABS ERR", 13) + "  " }
        lines.append(header + pad("TENSOR", nameWidth + 2) + "DECIDED BY")
        for row in rows {
            var line = pad(row.action, 9) + pad(row.stored, storedWidth + 2)
            if measure {
                let snr = row.resolved?.metrics.map { String(format: "%.1f", Double($0.snrDecibels)) } ?? "-"
                let maxError = row.resolved?.metrics.map { String(format: "%.3g", Double($0.maxAbsError)) } ?? "-"
                line += padLeft(snr, 8) + padLeft(maxError, 13) + "  "
            }
            let explanation = ([row.decision.reason] + row.notes).joined(separator: "; ")
            lines.append(line + pad(row.decision.tensor.name, nameWidth + 2) + explanation)
        }
        lines.append(summary(report))
        return lines.joined(separator: "\n") + "\n"
    }

    private func summary(_ report: PlanReport) -> String {
        let rows = report.tensors
        let failed = rows.count { $0.failure != nil }
        let quantized = rows.count { $0.failure == nil && $0.finalAction.quantizes }
        var text = "\(rows.count) tensors: \(quantized) quantized, \(rows.count - quantized - failed) kept"
        if failed > 0 { text += ", \(failed) cannot be quantized" }
        text += "; \(formatBytes(report.sourceByteCount)) → about \(formatBytes(report.plannedByteCount)) before compression"
        if measure, let worst = rows.filter({ $0.resolved?.metrics != nil })
            .min(by: { $0.resolved!.metrics!.snrDecibels < $1.resolved!.metrics!.snrDecibels })
        {
            text += String(format: "; lowest SNR %.1f dB (", Double(worst.resolved!.metrics!.snrDecibels))
                + worst.decision.tensor.name + ")"
        }
        return text
    }
}

/// Errors `plan --measure` reports after printing the whole plan.
enum PlanCommandError: Error, CustomStringConvertible {
    case cannotQuantize(count: Int, first: String)

    var description: String {
        switch self {
        case .cannotQuantize(let count, let first):
            "\(count) tensor(s) cannot be quantized, so convert would stop; the first: \(first); keep them with --skip or a rule"
        }
    }
}

/// A one-line progress counter on stderr, shown only when stderr is a terminal.
private final class ProgressLine {
    private let enabled = isatty(2) != 0
    private var shown = false

    func show(_ position: Int, of count: Int, _ name: String) {
        guard enabled else { return }
        shown = true
        let text = "\r\u{1B}[Kmeasuring \(position)/\(count) \(name)"
        FileHandle.standardError.write(Data(text.utf8))
    }

    func finish() {
        guard enabled && shown else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
