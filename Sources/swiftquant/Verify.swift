import ArgumentParser
import Foundation
import SwiftQuant
import SwiftQuantBench

/// `swiftquant verify`: every checksum of a checkpoint and, against its source, the error of
/// every quantized tensor.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every checksum of a SwiftQuant checkpoint; with --against, measure its error against the source.",
        discussion: """
            Every chunk of every tensor is checked against its XXH3 checksum and decoded. Exit \
            status 1 names the first damaged tensor. With --against SOURCE, each quantized tensor \
            is compared with the source's weights (max abs error, mean abs error, relative error, \
            SNR) and each kept tensor must match the source exactly.
            """)

    @Argument(help: "A SwiftQuant checkpoint (.swq).")
    var checkpoint: String

    @Option(help: ArgumentHelp("The checkpoint it was converted from.", valueName: "source"))
    var against: String?

    @Flag(help: "Print the result as JSON on stdout.")
    package var json = false

    package func run() throws {
        let file = try CheckpointFile(path: checkpoint)
        let source = try against.map { try openTensorSource(at: $0) }
        var rows: [VerifyRow] = []
        var firstFailure: Error?
        var failures = 0
        let bar = ProgressBar(enabled: true)
        let totalBytes = file.entries.reduce(0) { $0 + $1.values.rawLength }
        var doneBytes = 0
        for (index, entry) in file.entries.enumerated() {
            var row = VerifyRow(entry: entry)
            do {
                try file.verify(tensorNamed: entry.name)
                if let source { try row.compare(file: file, source: source) }
            } catch {
                row.problem = "\(error)"
                failures += 1
                if firstFailure == nil { firstFailure = error }
            }
            rows.append(row)
            source?.releasePages(for: entry.name)
            doneBytes += entry.values.rawLength
            bar.update(tensorsDone: index + 1, tensorCount: file.entries.count, bytesDone: doneBytes, totalBytes: totalBytes)
        }
        bar.finish()
        print(json ? jsonReport(rows, file: file) : textReport(rows, file: file, failures: failures))
        if let firstFailure {
            throw VerifyError.failed(count: failures, first: "\(firstFailure)")
        }
    }

    private func textReport(_ rows: [VerifyRow], file: CheckpointFile, failures: Int) -> String {
        var lines: [String] = []
        if against != nil {
            let width = max(6, rows.map(\.entry.name.count).max() ?? 0)
            lines.append("TENSOR".padding(toLength: width, withPad: " ", startingAt: 0)
                + "  STORED        MAX ABS ERR  MEAN ABS ERR  REL ERR %   SNR dB")
            for row in rows {
                var line = row.entry.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                line += row.stored.padding(toLength: 12, withPad: " ", startingAt: 0)
                if let problem = row.problem {
                    line += "  FAILED: \(problem)"
                } else if let metrics = row.measured {
                    line += String(
                        format: "  %11.4g  %12.4g  %9.3f  %7.1f", Double(metrics.maxAbsError), Double(metrics.meanAbsError),
                        Double(metrics.relativeErrorPercent), Double(metrics.snrDecibels))
                } else {
                    line += "  " + (row.note ?? "identical to the source")
                }
                lines.append(line)
            }
        } else {
            for row in rows where row.problem != nil { lines.append("\(row.entry.name): FAILED: \(row.problem!)") }
        }
        let verdict = failures == 0 ? "all checksums OK" : "\(failures) damaged"
        lines.append("\(checkpoint): \(rows.count) tensors, \(verdict)")
        return lines.joined(separator: "\n")
    }

    private func jsonReport(_ rows: [VerifyRow], file: CheckpointFile) -> String {
        let tensors = rows.map { row -> String in
            var fields = [
                "\"name\":" + jsonQuoted(row.entry.name), "\"stored\":" + jsonQuoted(row.stored),
                "\"ok\":\(row.problem == nil)", "\"problem\":" + (row.problem.map(jsonQuoted) ?? "null"),
            ]
            if against != nil {
                let metrics = row.measured
                fields += [
                    "\"max_abs_error\":" + jsonFloat(metrics?.maxAbsError), "\"mean_abs_error\":" + jsonFloat(metrics?.meanAbsError),
                    "\"relative_error_pct\":" + jsonFloat(metrics?.relativeErrorPercent), "\"snr_db\":" + jsonFloat(metrics?.snrDecibels),
                ]
            }
            return "{" + fields.joined(separator: ",") + "}"
        }
        return "{\"checkpoint\":\(jsonQuoted(checkpoint)),\"ok\":\(rows.allSatisfy { $0.problem == nil }),\"tensors\":[" + tensors.joined(separator: ",") + "]}"
    }
}

private struct VerifyRow {
    var entry: CheckpointEntry
    var measured: QuantizationErrorMetrics?
    var problem: String?
    /// For a kept tensor stored in another float type than the source's.
    var note: String?

    var stored: String {
        entry.quantization.map { "I8 " + $0.description } ?? entry.dtype.rawValue
    }

    /// Measures a quantized tensor against the source's weights; a kept one must be identical.
    mutating func compare(file: CheckpointFile, source: any TensorSource) throws {
        guard let info = source.info(for: entry.name) else {
            throw VerifyError.missingInSource(tensor: entry.name, source: source.path)
        }
        guard info.shape == entry.shape else {
            throw VerifyError.shapeDiffers(tensor: entry.name, checkpoint: entry.shape, source: info.shape)
        }
        if let weight = try file.quantizedWeight(for: entry.name) {
            let weights = try FloatTensor(shape: info.shape, storage: try source.floats(for: entry.name))
            measured = quantizationError(original: weights, quantized: weight)
        } else if entry.dtype == info.dtype {
            let stored = try file.data(for: entry.name), original = try source.data(for: entry.name)
            // The bytes are views owned by the TensorData values: keep both alive while comparing.
            let identical = withExtendedLifetime((stored, original)) { stored.bytes.elementsEqual(original.bytes) }
            guard identical else {
                throw VerifyError.keptDiffers(tensor: entry.name)
            }
        } else {
            // Kept in another float type: exact within that type's rounding is all one can ask.
            let stored = try file.floats(for: entry.name), original = try source.floats(for: entry.name)
            var maxError: Float = 0
            for (a, b) in zip(stored, original) { maxError = max(maxError, abs(a - b)) }
            note = "kept as \(entry.dtype.rawValue) from \(info.dtype.rawValue), max abs difference \(maxError)"
        }
    }
}

enum VerifyError: Error, CustomStringConvertible {
    case failed(count: Int, first: String)
    case missingInSource(tensor: String, source: String)
    case shapeDiffers(tensor: String, checkpoint: [Int], source: [Int])
    case keptDiffers(tensor: String)

    var description: String {
        switch self {
        case .failed(let count, let first):
            "\(count) tensor\(count == 1 ? "" : "s") failed verification; first: \(first)"
        case .missingInSource(let tensor, let source):
            "tensor '\(tensor)' is not in \(source); is it the checkpoint's source?"
        case .shapeDiffers(let tensor, let checkpoint, let source):
            "tensor '\(tensor)' has shape \(checkpoint) in the checkpoint but \(source) in the source; is it the checkpoint's source?"
        case .keptDiffers(let tensor):
            "kept tensor '\(tensor)' differs from the source"
        }
    }
}
