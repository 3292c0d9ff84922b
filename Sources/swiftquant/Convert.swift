import ArgumentParser
import Foundation
import SwiftQuant
import SwiftQuantBench

/// `swiftquant convert`: a checkpoint in, a compact INT8 checkpoint out, streaming and atomic.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a checkpoint to a compressed INT8 checkpoint (or GGUF, or int8 safetensors).",
        discussion: """
            INPUT is recognised by its contents: a safetensors file, a sharded safetensors folder \
            (or its index) or a GGUF file. Tensors stream through one at a time, so memory stays \
            bounded by the largest tensor. The output is written to a temporary file beside it and \
            renamed into place only when complete; an existing output is replaced only with --force.
            """)

    @Argument(help: "A safetensors file, a sharded safetensors folder or a GGUF file.")
    var input: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The file to write (.swq, .gguf or .safetensors).", valueName: "path"))
    var output: String

    @Option(help: ArgumentHelp(
        "\(FormatRegistry.standard.outputFormatNames.joined(separator: ", ")): native (.swq, the default), gguf (Q8_0), safetensors (bare int8 + NAME_scale), or a model folder: compressed-tensors (transformers) or mlx (mlx-lm); default: from the output's extension.",
        valueName: "format"))
    var format: String?

    @Option(help: ArgumentHelp(
        "float32 (default: widen fp16/bf16 weights to Float32 once) or reference (round to the weight's dtype after each op, as rotalabs-accel in PyTorch).",
        valueName: "arithmetic"))
    var arithmetic: Arithmetic = .float32

    @Option(help: ArgumentHelp("Largest weights file of a model folder, e.g. 5GB (the default), 500MB, 1000000 (bytes).", valueName: "size"))
    var maxShardSize: String?

    @Option(help: ArgumentHelp("Source bytes per slice of a large tensor, e.g. 64MiB (the default), 1MB: tensors larger than this are quantized and written a slice at a time, which bounds memory. The output is the same for any size.", valueName: "size"))
    var sliceSize: String?

    @Option(help: ArgumentHelp("The folder whose config.json, tokenizer and generation files go into a model folder (default: INPUT if a folder, else the folder INPUT is in).", valueName: "dir"))
    var modelDir: String?

    @OptionGroup var rules: RuleOptions

    @Option(help: ArgumentHelp("zstd level for the native format, 1 (default, fastest) to 19.", valueName: "n"))
    var compressionLevel: Int?

    @Flag(help: "Store every tensor uncompressed (memory-mappable, zero-copy loading).")
    var noCompression = false

    @Option(help: ArgumentHelp("Worker threads (default: all cores). The output is the same for any count.", valueName: "n"))
    var threads: Int?

    @Flag(help: "Replace the output if it exists.")
    var force = false

    @Flag(help: "No progress bar and no summary.")
    var quiet = false

    @Flag(help: "Print the summary as JSON on stdout.")
    package var json = false

    @Option(help: ArgumentHelp("general.architecture for GGUF output (default: a GGUF input's own, else model_type from config.json beside INPUT).", valueName: "name"))
    var arch: String?

    func validate() throws {
        if let level = compressionLevel, !(1...19).contains(level) {
            throw ValidationError("--compression-level \(level) is out of range; use 1 (fastest) to 19 (smallest)")
        }
        if compressionLevel != nil && noCompression {
            throw ValidationError("--compression-level and --no-compression contradict each other; give one")
        }
        if let format, FormatRegistry.standard.outputFormat(named: format) == nil {
            let names = FormatRegistry.standard.outputFormatNames.map { "'\($0)'" }
            throw ValidationError("The value '\(format)' is invalid for '--format <format>'. Please provide one of \(names.dropLast().joined(separator: ", ")) and \(names.last ?? "").")
        }
        if arch != nil, (try? FormatRegistry.standard.outputFormat(named: format, forPath: output))?.name != "gguf" {
            throw ValidationError("--arch applies only to GGUF output; add --format gguf or write a .gguf file")
        }
        if (maxShardSize != nil || modelDir != nil) && !Self.folderFormats.contains(format ?? "") {
            throw ValidationError("--max-shard-size and --model-dir apply only to model folders; add --format compressed-tensors or --format mlx")
        }
        if let maxShardSize, parseByteSize(maxShardSize) == nil {
            throw ValidationError("--max-shard-size '\(maxShardSize)' is not a size; write it like 5GB, 500MB or 1000000")
        }
        if let sliceSize, (parseByteSize(sliceSize) ?? 0) < 1 {
            throw ValidationError("--slice-size '\(sliceSize)' is not a positive size; write it like 64MiB, 1MB or 65536")
        }
        if let threads, threads < 1 {
            throw ValidationError("--threads \(threads) is invalid; use 1 or more")
        }
    }

    package func run() throws {
        // Bound for this run only (a task-local): the kernels, the converter's producer thread
        // and the compressor's workers all read it.
        try Parallelism.withThreads(threads) { try convert() }
    }

    private func convert() throws {
        var options = ConversionOptions(
            rules: try rules.makeConfig(), format: format,
            compressionLevel: noCompression ? nil : Int32(compressionLevel ?? 1),
            architecture: arch, arithmetic: arithmetic, force: force,
            toolVersion: SwiftQuantCommand.configuration.version,
            maxShardBytes: maxShardSize.flatMap(parseByteSize) ?? 5_000_000_000, modelDirectory: modelDir)
        if let bytes = sliceSize.flatMap(parseByteSize) { options.sliceBytes = bytes }
        let bar = ProgressBar(enabled: !quiet)
        let report: ConversionReport
        var plannedForMLX: QuantizationPlan?
        do {
            report = try SwiftQuant.convert(
                input: input, output: output, options: options,
                progress: { progress in
                    bar.update(
                        tensorsDone: progress.tensorsDone, tensorCount: progress.tensorCount,
                        bytesDone: progress.bytesDone, totalBytes: progress.totalBytes)
                },
                planned: { plan in
                    if !quiet { rules.warnAboutUnusedRules(in: plan) }
                    plannedForMLX = plan
                })
            bar.finish()
        } catch {
            bar.finish()
            throw error
        }
        if json {
            print(try report.jsonText(pretty: false))
        } else if !quiet {
            print(report.text)
        }
        // After success only: a refused conversion stays one line on stderr.
        if format == "mlx", !quiet, let plan = plannedForMLX { Self.warnAboutMLXGroupSize(plan) }
        if report.format == "safetensors" && !quiet {
            printToStandardError("swiftquant: warning: bare int8 safetensors load in no runtime without a config (transformers casts the codes to floats silently); for a folder transformers or MLX load as it is, use --format compressed-tensors or --format mlx")
        }
    }

    /// The output formats that write a model folder (the only ones --max-shard-size and --model-dir apply to).
    static let folderFormats: Set<String> = ["compressed-tensors", "mlx"]

    /// MLX stores groups of 32, 64 or 128 only: says once how the plan's other granularities are stored.
    private static func warnAboutMLXGroupSize(_ plan: QuantizationPlan) {
        var planned = Set<Granularity>()
        for decision in plan.decisions { if case .quantize(let granularity) = decision.action { planned.insert(granularity) } }
        for granularity in planned.sorted(by: { $0.description < $1.description }) {
            let size = ModelFolderWriter.mlxGroupSize(forPlanned: granularity)
            if granularity != .perGroup(size: size) {
                printToStandardError("swiftquant: note: MLX stores 8-bit weights in groups of 32, 64 or 128; weights planned \(granularity) are quantized per-group(\(size)) instead")
            }
        }
    }
}

/// `5GB`, `500MB`, `64kB`, `1000000`: decimal units (as transformers' max_shard_size), or
/// `GiB`/`MiB`/`KiB`; `nil` when it is not a positive size.
func parseByteSize(_ text: String) -> Int? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let units: [(String, Int)] = [
        ("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("GB", 1_000_000_000), ("MB", 1_000_000),
        ("KB", 1000), ("B", 1),
    ]
    for (unit, factor) in units where trimmed.uppercased().hasSuffix(unit) {
        guard let value = Double(trimmed.dropLast(unit.count).trimmingCharacters(in: .whitespaces)), value > 0,
              value * Double(factor) < 9e18 else { return nil }
        return Int(value * Double(factor))
    }
    guard let value = Int(trimmed), value > 0 else { return nil }
    return value
}

extension Arithmetic: ExpressibleByArgument {}

extension Encodable {
    /// This report as JSON: compact on one line, or pretty-printed.
    func jsonText(pretty: Bool) throws -> String {
        String(decoding: try JSONEncoder.report(pretty: pretty).encode(self), as: UTF8.self)
    }
}

extension ConversionReport {
    /// The end-of-run summary: counts, sizes, time and the five worst tensors by SNR.
    var text: String {
        let quantized = self.quantized
        var lines = [
            "Converted \(input) → \(output) (\(format)) in \(String(format: "%.1f", seconds)) s",
            "  tensors: \(quantized.count) quantized, \(tensors.count - quantized.count) kept",
            "  size:    \(formatBytes(inputBytes)) → \(formatBytes(outputBytes)) (\(String(format: "%.1f", ratio * 100)) %, \(String(format: "%.2f", ratio > 0 ? 1 / ratio : 0))× smaller)",
        ]
        if !worst.isEmpty {
            lines.append("  lowest SNR:")
            for report in worst {
                let granularity = report.schemeLabel ?? ""
                lines.append("    " + String(format: "%6.1f dB", Double(report.snrDecibels!.value)) + "  \(report.name) (\(granularity))")
            }
        }
        let noted = tensors.filter { $0.note != nil }
        if !noted.isEmpty { lines.append("  notes:") }
        for report in noted.prefix(10) { lines.append("    \(report.name): \(report.note!)") }
        if noted.count > 10 { lines.append("    … and \(noted.count - 10) more (--json lists every tensor)") }
        return lines.joined(separator: "\n")
    }
}
