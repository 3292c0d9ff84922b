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

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case native, gguf, safetensors
        case compressedTensors = "compressed-tensors"
        case mlx

        /// How errors name the output format.
        var label: String { rawValue }

        /// The model-folder layout this format writes, or `nil` for a single-file format.
        var folderLayout: ModelFolderLayout? {
            switch self {
            case .compressedTensors: .compressedTensors
            case .mlx: .mlx
            default: nil
            }
        }
    }

    @Argument(help: "A safetensors file, a sharded safetensors folder or a GGUF file.")
    var input: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The file to write (.swq, .gguf or .safetensors).", valueName: "path"))
    var output: String

    @Option(help: "native (.swq, the default), gguf (Q8_0), safetensors (bare int8 + NAME_scale), or a model folder: compressed-tensors (transformers) or mlx (mlx-lm); default: from the output's extension.")
    var format: OutputFormat?

    @Option(help: ArgumentHelp("Largest weights file of a model folder, e.g. 5GB (the default), 500MB, 1000000 (bytes).", valueName: "size"))
    var maxShardSize: String?

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
        if arch != nil && resolvedFormat != .gguf {
            throw ValidationError("--arch applies only to GGUF output; add --format gguf or write a .gguf file")
        }
        if (maxShardSize != nil || modelDir != nil) && resolvedFormat.folderLayout == nil {
            throw ValidationError("--max-shard-size and --model-dir apply only to model folders; add --format compressed-tensors or --format mlx")
        }
        if let maxShardSize, parseByteSize(maxShardSize) == nil {
            throw ValidationError("--max-shard-size '\(maxShardSize)' is not a size; write it like 5GB, 500MB or 1000000")
        }
        if let threads, threads < 1 {
            throw ValidationError("--threads \(threads) is invalid; use 1 or more")
        }
    }

    /// The format from --format, else from the output's extension, else native.
    var resolvedFormat: OutputFormat {
        if let format { return format }
        let lowered = output.lowercased()
        if lowered.hasSuffix(".gguf") { return .gguf }
        if lowered.hasSuffix(".safetensors") { return .safetensors }
        return .native
    }

    package func run() throws {
        // Bound for this run only (a task-local): the kernels, the converter's producer thread
        // and the compressor's workers all read it.
        try Parallelism.withThreads(threads) { try convert() }
    }

    private func convert() throws {
        let started = Date()
        let config = try rules.makeConfig()
        let source = try openTensorSource(at: input)
        let format = resolvedFormat
        let ggufOptions = format == .gguf ? try GGUFWriter.Options.resolve(source: source, input: input, architecture: arch) : nil
        // For GGUF the plan already keeps what llama.cpp never quantizes, so the report and
        // swiftquant.rules name the reason.
        let target: PlanTarget = ggufOptions.map { .gguf(architecture: $0.architecture) } ?? .anyFormat
        let plan = QuantizationPlan(tensors: source.tensors, config: config, target: target)
        if !quiet { rules.warnAboutUnusedRules(in: plan) }
        AtomicOutputFile.removeTemporaryFilesOnSignal()
        if let layout = format.folderLayout {
            if !quiet && format == .mlx { warnAboutMLXGroupSize(plan) }
            let folder = try AtomicOutputFolder(destination: output, force: force, inputs: [input])
            let sink = ModelFolderWriter(
                output: folder, layout: layout,
                options: .init(sourceFolder: modelDir ?? (isDirectory(input) ? input : parentFolder(of: input)),
                               maxShardBytes: maxShardSize.flatMap(parseByteSize) ?? 5_000_000_000))
            try run(plan: plan, source: source, sink: sink, format: format, level: nil, started: started,
                    commit: { try folder.commit() }, discard: { folder.discard() }, outputBytes: { folderSize(output) })
            return
        }
        let file = try AtomicOutputFile(destination: output, force: force, inputs: [input])
        let level = noCompression ? nil : Int32(compressionLevel ?? 1)
        let sink: any TensorWriter
        switch format {
        case .native:
            sink = CheckpointWriter(output: file, options: .init(compressionLevel: level))
        case .safetensors:
            sink = SafeTensorsWriter(output: file, layout: .int8)
        case .gguf:
            sink = GGUFWriter(output: file, options: ggufOptions!)
        case .compressedTensors, .mlx:
            preconditionFailure("model folders are written above")
        }
        try run(plan: plan, source: source, sink: sink, format: format, level: level, started: started,
                commit: { try file.commit() }, discard: { file.discard() }, outputBytes: { fileSize(output) })
        // After success only: a refused conversion stays one line on stderr.
        if format == .safetensors && !quiet {
            printToStandardError("swiftquant: warning: bare int8 safetensors load in no runtime without a config (transformers casts the codes to floats silently); for a folder transformers or MLX load as it is, use --format compressed-tensors or --format mlx")
        }
    }

    /// Converts into `sink`, then commits the output (or discards it on any error) and prints the summary.
    private func run(
        plan: QuantizationPlan, source: any TensorSource, sink: any TensorWriter, format: OutputFormat, level: Int32?,
        started: Date, commit: () throws -> Void, discard: () -> Void, outputBytes: () -> Int
    ) throws {
        let decisions: [TensorDecision]
        do {
            // Adapted to what the writer stores before anything is quantized or written.
            decisions = try plan.decisions.adapted(to: sink, source: source, format: format.label)
        } catch {
            discard()
            throw error
        }
        let metadata = Converter.standardMetadata(
            source: source,
            rulesJSON: rulesJSON(plan, storing: sink.storedScheme(forPlanned: plan.config.granularity.granularity(groupSize: plan.config.groupSize))),
            compression: level.map { "zstd-\($0)" } ?? "none",
            toolVersion: SwiftQuantCommand.configuration.version)
        let converter = Converter(source: source, decisions: decisions, sink: sink, metadata: metadata)
        let bar = ProgressBar(enabled: !quiet)
        let reports: [ConvertedTensorReport]
        do {
            let converted = try converter.run { progress in
                bar.update(
                    tensorsDone: progress.tensorsDone, tensorCount: progress.tensorCount,
                    bytesDone: progress.bytesDone, totalBytes: progress.totalBytes)
            }
            reports = converted
            bar.finish()
            try commit()
        } catch {
            bar.finish()
            discard()
            throw error
        }
        let summary = ConversionSummary(
            input: input, output: output, format: format.rawValue, reports: reports,
            inputBytes: source.tensors.reduce(0) { $0 + $1.byteCount }, outputBytes: outputBytes(),
            seconds: Date().timeIntervalSince(started))
        if json {
            print(summary.json)
        } else if !quiet {
            print(summary.text)
        }
    }

    /// MLX stores groups of 32, 64 or 128 only: says once how the plan's other granularities are stored.
    private func warnAboutMLXGroupSize(_ plan: QuantizationPlan) {
        var planned = Set<Granularity>()
        for decision in plan.decisions { if case .quantize(let granularity) = decision.action { planned.insert(granularity) } }
        for granularity in planned.sorted(by: { $0.description < $1.description }) {
            let size = ModelFolderWriter.mlxGroupSize(forPlanned: granularity)
            if granularity != .perGroup(size: size) {
                printToStandardError("swiftquant: note: MLX stores 8-bit weights in groups of 32, 64 or 128; weights planned \(granularity) are quantized per-group(\(size)) instead")
            }
        }
    }

    /// The rules as `swiftquant.rules` records them (Specs/swiftquant-checkpoint.md).
    ///
    /// A writer that stores another scheme than symmetric INT8 whatever the plan's granularity
    /// (GGUF: Q8_0) records that scheme instead of the granularity the plan asked for.
    private func rulesJSON(_ plan: QuantizationPlan, storing scheme: QuantizationDescriptor) -> String {
        let config = plan.config
        var fields: [String] = []
        fields.append("\"config\":" + (config.path.map(jsonQuoted) ?? "null"))
        fields.append("\"defaults\":\(config.useDefaults)")
        if case .symmetricInt8 = scheme {
            fields.append("\"granularity\":" + jsonQuoted(config.granularity.rawValue))
            fields.append("\"group_size\":\(config.groupSize)")
        } else {
            fields.append("\"scheme\":" + jsonQuoted(scheme.name))
        }
        fields.append("\"keep_dtype\":" + jsonQuoted(config.keepDType.rawValue))
        if let preset = config.preset { fields.append("\"preset\":" + jsonQuoted(preset.rawValue)) }
        fields.append("\"rules\":[" + config.rules.map { jsonQuoted($0.label) }.joined(separator: ",") + "]")
        fields.append("\"decisions\":{" + plan.decisions.map { jsonQuoted($0.tensor.name) + ":" + jsonQuoted($0.reason) }.joined(separator: ",") + "}")
        return "{" + fields.joined(separator: ",") + "}"
    }
}

enum ConvertCommandError: Error, CustomStringConvertible {
    case formatNotAvailable(String)

    var description: String {
        switch self {
        case .formatNotAvailable(let format):
            "output format '\(format)' is not available in this build; use --format native or safetensors"
        }
    }
}

/// The end-of-run report: counts, sizes, time and the five worst tensors by SNR.
struct ConversionSummary {
    var input: String
    var output: String
    var format: String
    var reports: [ConvertedTensorReport]
    var inputBytes: Int
    var outputBytes: Int
    var seconds: Double

    var quantized: [ConvertedTensorReport] { reports.filter { $0.metrics != nil } }
    var worst: [ConvertedTensorReport] {
        Array(quantized.sorted { $0.metrics!.snrDecibels < $1.metrics!.snrDecibels }.prefix(5))
    }
    var ratio: Double { inputBytes > 0 ? Double(outputBytes) / Double(inputBytes) : 0 }

    var text: String {
        var lines = [
            "Converted \(input) → \(output) (\(format)) in \(String(format: "%.1f", seconds)) s",
            "  tensors: \(quantized.count) quantized, \(reports.count - quantized.count) kept",
            "  size:    \(formatBytes(inputBytes)) → \(formatBytes(outputBytes)) (\(String(format: "%.1f", ratio * 100)) %, \(String(format: "%.2f", ratio > 0 ? 1 / ratio : 0))× smaller)",
        ]
        if !worst.isEmpty {
            lines.append("  lowest SNR:")
            for report in worst {
                let granularity = report.scheme?.description ?? ""
                lines.append("    " + String(format: "%6.1f dB", Double(report.metrics!.snrDecibels)) + "  \(report.name) (\(granularity))")
            }
        }
        let noted = reports.filter { $0.note != nil }
        if !noted.isEmpty { lines.append("  notes:") }
        for report in noted.prefix(10) { lines.append("    \(report.name): \(report.note!)") }
        if noted.count > 10 { lines.append("    … and \(noted.count - 10) more (--json lists every tensor)") }
        return lines.joined(separator: "\n")
    }

    package var json: String {
        func tensorJSON(_ report: ConvertedTensorReport) -> String {
            var fields = ["\"name\":" + jsonQuoted(report.name)]
            switch report.action {
            case .quantize(let granularity):
                fields += ["\"action\":\"quantize\"", "\"granularity\":" + jsonQuoted(granularity.name),
                           "\"group_size\":" + (granularity.groupSize.map(String.init) ?? "null"),
                           "\"scheme\":" + (report.scheme.map { jsonQuoted($0.name) } ?? "null")]
            case .keep(let dtype):
                fields += ["\"action\":\"keep\"", "\"keep_dtype\":" + jsonQuoted(dtype.rawValue)]
            }
            let metrics = report.metrics
            fields += [
                "\"snr_db\":" + jsonFloat(metrics?.snrDecibels), "\"max_abs_error\":" + jsonFloat(metrics?.maxAbsError),
                "\"mean_abs_error\":" + jsonFloat(metrics?.meanAbsError),
                "\"relative_error_pct\":" + jsonFloat(metrics?.relativeErrorPercent),
                "\"rule\":" + jsonQuoted(report.reason), "\"note\":" + (report.note.map(jsonQuoted) ?? "null"),
            ]
            return "{" + fields.joined(separator: ",") + "}"
        }
        let fields = [
            "\"input\":" + jsonQuoted(input), "\"output\":" + jsonQuoted(output), "\"format\":" + jsonQuoted(format),
            "\"tensors_quantized\":\(quantized.count)", "\"tensors_kept\":\(reports.count - quantized.count)",
            "\"input_bytes\":\(inputBytes)", "\"output_bytes\":\(outputBytes)",
            "\"ratio\":\(ratio)", "\"seconds\":\(seconds)",
            "\"worst_snr\":[" + worst.map { "{\"name\":\(jsonQuoted($0.name)),\"snr_db\":\(jsonFloat($0.metrics?.snrDecibels))}" }.joined(separator: ",") + "]",
            "\"tensors\":[" + reports.map(tensorJSON).joined(separator: ",") + "]",
        ]
        return "{" + fields.joined(separator: ",") + "}"
    }
}

/// The size of the file at `path`, or 0.
func fileSize(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : 0
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

/// The bytes of the files directly in `folder` (a model folder has no subfolders).
func folderSize(_ folder: String) -> Int {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return 0 }
    return names.reduce(0) { $0 + fileSize(folder + "/" + $1) }
}
