import ArgumentParser
import Foundation
import SwiftQuant
import SwiftQuantBench

/// `swiftquant export`: a SwiftQuant checkpoint as a safetensors file any tool loads.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a SwiftQuant checkpoint as safetensors: INT8 with NAME_scale tensors, or dequantized floats.",
        discussion: """
            --layout int8 writes each quantized tensor NAME as I8 in its shape plus NAME_scale as \
            F32: [1] per tensor, [rows, 1] per channel, [rows, columns/group] per group \
            (compressed-tensors' convention). --layout dequantized writes q × scale as floats, in \
            --dtype or else the source tensor's dtype. Kept tensors are written unchanged.
            """)

    enum Layout: String, ExpressibleByArgument, CaseIterable {
        case int8, dequantized
        case compressedTensors = "compressed-tensors"
        case mlx

        /// The library's layout of the same name.
        var exportLayout: ExportLayout { ExportLayout(rawValue: rawValue)! }
    }

    enum FloatType: String, ExpressibleByArgument, CaseIterable {
        case f32, f16, bf16

        var dtype: DType {
            switch self {
            case .f32: .f32
            case .f16: .f16
            case .bf16: .bf16
            }
        }
    }

    @Argument(help: "A SwiftQuant checkpoint (.swq).")
    var checkpoint: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The .safetensors file to write.", valueName: "path"))
    var output: String

    @Option(help: "int8 (bare, no runtime loads it without a config), dequantized, or a model folder: compressed-tensors (transformers) or mlx (mlx-lm; needs a checkpoint quantized per group of 32, 64 or 128).")
    var layout: Layout

    @Option(help: ArgumentHelp("Largest weights file of a model folder, e.g. 5GB (the default), 500MB.", valueName: "size"))
    var maxShardSize: String?

    @Option(help: ArgumentHelp("The folder whose config.json, tokenizer and generation files go into a model folder (default: the checkpoint's folder).", valueName: "dir"))
    var modelDir: String?

    @Option(help: "Float type of dequantized tensors: f32, f16 or bf16 (default: each tensor's source dtype).")
    var dtype: FloatType?

    @Flag(help: "Replace the output if it exists.")
    var force = false

    @Flag(help: "No progress bar.")
    var quiet = false

    func validate() throws {
        if dtype != nil && layout == .int8 {
            throw ValidationError("--dtype applies to --layout dequantized only; quantized tensors are written as integers with F32 scales")
        }
        if (maxShardSize != nil || modelDir != nil) && layout.exportLayout.folderLayout == nil {
            throw ValidationError("--max-shard-size and --model-dir apply only to --layout compressed-tensors or mlx")
        }
        if let maxShardSize, parseByteSize(maxShardSize) == nil {
            throw ValidationError("--max-shard-size '\(maxShardSize)' is not a size; write it like 5GB, 500MB or 1000000")
        }
    }

    package func run() throws {
        let bar = ProgressBar(enabled: !quiet)
        do {
            try SwiftQuant.export(
                checkpoint: checkpoint, output: output, layout: layout.exportLayout,
                dtype: dtype?.dtype, force: force,
                maxShardBytes: maxShardSize.flatMap(parseByteSize) ?? 5_000_000_000, modelDirectory: modelDir
            ) { progress in
                bar.update(
                    tensorsDone: progress.tensorsDone, tensorCount: progress.tensorCount,
                    bytesDone: progress.bytesDone, totalBytes: progress.totalBytes)
            }
            bar.finish()
        } catch {
            bar.finish()
            throw error
        }
        // After success only: a refused export stays one line on stderr.
        if layout == .int8 && !quiet {
            printToStandardError("swiftquant: warning: bare int8 safetensors load in no runtime without a config (transformers casts the codes to floats silently); for a folder transformers or MLX load as it is, use --layout compressed-tensors or --layout mlx")
        }
    }
}
