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

    @Option(help: "The output the plan is for: native (default) or gguf (Q8_0, with llama.cpp's never-quantize list).")
    var format: Convert.OutputFormat?

    @Option(help: ArgumentHelp("general.architecture for --format gguf (default: a GGUF input's own).", valueName: "name"))
    var arch: String?

    package func run() throws {
        let config = try rules.makeConfig()
        let source = try openTensorSource(at: input)
        let gguf = format == .gguf
        let architecture: String? = gguf ? (arch ?? source.metadata["general.architecture"].flatMap {
            if case .string(let name) = $0 { return name } else { return nil } }) : nil
        let plan = QuantizationPlan(
            tensors: source.tensors, config: config, target: gguf ? .gguf(architecture: architecture) : .anyFormat)
        let decisions = gguf ? try plan.decisions.adaptedToGGUF(architecture: architecture, source: source) : plan.decisions
        var rows = decisions.map { PlanRow(decision: $0, scheme: gguf ? "Q8_0" : nil) }
        var failures: [String] = []
        if measure {
            let progress = ProgressLine(total: rows.count { $0.decision.quantizes })
            for index in rows.indices where rows[index].decision.quantizes {
                let name = rows[index].decision.tensor.name
                progress.advance(name)
                do {
                    rows[index].resolved = gguf
                        ? try source.resolve(rows[index].decision, storing: { _ in .q8_0 })
                        : try source.resolve(rows[index].decision)
                } catch let error as TensorResolutionError {
                    // Carry on, so the plan shows every tensor convert would stop at.
                    guard case .cannotQuantize(_, _, let problem) = error else { throw error }
                    rows[index].failure = "\(problem)"
                    failures.append("\(error)")
                }
                source.releasePages(for: name)
            }
            progress.finish()
        }
        let report = json ? jsonReport(rows, plan: plan) : textReport(rows, plan: plan)
        FileHandle.standardOutput.write(Data(report.utf8))
        rules.warnAboutUnusedRules(in: plan)
        if let first = failures.first {
            throw PlanCommandError.cannotQuantize(count: failures.count, first: first)
        }
    }

    // MARK: Output

    private func textReport(_ rows: [PlanRow], plan: QuantizationPlan) -> String {
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
            let explanation = ([row.decision.reason] + row.notes(measured: measure)).joined(separator: "; ")
            lines.append(line + pad(row.decision.tensor.name, nameWidth + 2) + explanation)
        }
        lines.append(summary(rows))
        return lines.joined(separator: "\n") + "\n"
    }

    private func summary(_ rows: [PlanRow]) -> String {
        let failed = rows.count { $0.failure != nil }
        let quantized = rows.count { $0.failure == nil && $0.finalAction.isQuantize }
        let sourceBytes = rows.reduce(0) { $0 + $1.decision.tensor.byteCount }
        let plannedBytes = rows.reduce(0) { $0 + $1.plannedByteCount }
        var text = "\(rows.count) tensors: \(quantized) quantized, \(rows.count - quantized - failed) kept"
        if failed > 0 { text += ", \(failed) cannot be quantized" }
        text += "; \(formatBytes(sourceBytes)) → about \(formatBytes(plannedBytes)) before compression"
        if measure, let worst = rows.filter({ $0.resolved?.metrics != nil })
            .min(by: { $0.resolved!.metrics!.snrDecibels < $1.resolved!.metrics!.snrDecibels })
        {
            text += String(format: "; lowest SNR %.1f dB (", Double(worst.resolved!.metrics!.snrDecibels))
                + worst.decision.tensor.name + ")"
        }
        return text
    }

    private func jsonReport(_ rows: [PlanRow], plan: QuantizationPlan) -> String {
        var entries: [String] = []
        for row in rows {
            let tensor = row.decision.tensor
            var fields: [(String, String)] = [
                ("name", jsonQuoted(tensor.name)),
                ("dtype", jsonQuoted(tensor.dtype.rawValue)),
                ("shape", "[" + tensor.shape.map(String.init).joined(separator: ",") + "]"),
                ("action", jsonQuoted(row.finalAction.isQuantize ? "quantize" : "keep")),
            ]
            switch row.finalAction {
            case .quantize(let granularity):
                fields.append(("granularity", jsonQuoted(granularity.name)))
                fields.append(("group_size", granularity.groupSize.map(String.init) ?? "null"))
                fields.append(("keep_dtype", "null"))
            case .keep(let dtype):
                fields += [("granularity", "null"), ("group_size", "null"), ("keep_dtype", jsonQuoted(dtype.rawValue))]
            }
            fields.append(("rule", jsonQuoted(row.decision.reason)))
            if let minimum = row.decision.minimumSNRDecibels { fields.append(("min_snr_db", jsonFloat(minimum))) }
            fields.append(("notes", "[" + row.notes(measured: measure).map(jsonQuoted).joined(separator: ",") + "]"))
            if measure {
                fields.append(("snr_db", jsonFloat(row.resolved?.metrics?.snrDecibels)))
                fields.append(("max_abs_error", jsonFloat(row.resolved?.metrics?.maxAbsError)))
            }
            entries.append("    {" + fields.map { "\(jsonQuoted($0.0)): \($0.1)" }.joined(separator: ", ") + "}")
        }
        let unused = plan.unusedRules.map { jsonQuoted($0.rule.label) }
        return "{\n  \"tensors\": [\n" + entries.joined(separator: ",\n") + "\n  ],\n"
            + "  \"unused_rules\": [" + unused.joined(separator: ", ") + "]\n}\n"
    }
}

/// One tensor's line: the plan's decision and, with `--measure`, what quantizing it gave.
private struct PlanRow {
    var decision: TensorDecision
    /// The block type the output stores quantized tensors in (GGUF: Q8_0), when not SwiftQuant's INT8.
    var scheme: String?
    var resolved: ResolvedDecision?
    var failure: String?

    var finalAction: TensorAction { resolved?.action ?? decision.action }

    var action: String {
        if failure != nil { return "error" }
        return finalAction.isQuantize ? "quantize" : "keep"
    }

    /// `per-channel`, `per-group(64)` or, for a kept tensor, the dtype it is stored as.
    var stored: String {
        switch finalAction {
        case .quantize(let granularity): scheme ?? granularity.description
        case .keep(.source): decision.tensor.dtype.rawValue
        case .keep(let dtype): dtype.rawValue.uppercased()
        }
    }

    func notes(measured: Bool) -> [String] {
        var notes = decision.notes
        if let failure { notes.append("cannot quantize: \(failure)") }
        if let note = resolved?.note {
            notes.append(note)
        } else if !measured, let minimum = decision.minimumSNRDecibels {
            notes.append("min_snr_db \(String(format: "%g", minimum)) is checked by convert and plan --measure")
        }
        return notes
    }

    /// Bytes the tensor takes in the checkpoint before compression: INT8 values plus Float32
    /// scales, or the kept dtype.
    var plannedByteCount: Int {
        let tensor = decision.tensor
        switch finalAction {
        case .quantize(let granularity):
            // Q8_0: 34 bytes per block of 32.
            if scheme != nil { return tensor.elementCount / 32 * 34 }
            return tensor.elementCount + 4 * scaleCount(shape: tensor.shape, granularity: granularity)
        case .keep(.source): return tensor.byteCount
        case .keep(.f32): return tensor.elementCount * 4
        case .keep(.f16), .keep(.bf16): return tensor.elementCount * 2
        }
    }
}

extension TensorAction {
    fileprivate var isQuantize: Bool {
        if case .quantize = self { return true }
        return false
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
    private let total: Int
    private var done = 0
    private let enabled: Bool

    init(total: Int) {
        self.total = total
        enabled = isatty(2) != 0 && total > 0
    }

    func advance(_ name: String) {
        done += 1
        guard enabled else { return }
        let text = "\r\u{1B}[Kmeasuring \(done)/\(total) \(name)"
        FileHandle.standardError.write(Data(text.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
