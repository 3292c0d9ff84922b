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

        var folderLayout: ModelFolderLayout? {
            switch self {
            case .compressedTensors: .compressedTensors
            case .mlx: .mlx
            default: nil
            }
        }
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
        if (maxShardSize != nil || modelDir != nil) && layout.folderLayout == nil {
            throw ValidationError("--max-shard-size and --model-dir apply only to --layout compressed-tensors or mlx")
        }
        if let maxShardSize, parseByteSize(maxShardSize) == nil {
            throw ValidationError("--max-shard-size '\(maxShardSize)' is not a size; write it like 5GB, 500MB or 1000000")
        }
    }

    package func run() throws {
        let file = try CheckpointFile(path: checkpoint)
        AtomicOutputFile.removeTemporaryFilesOnSignal()
        if let folderLayout = layout.folderLayout {
            let folder = try AtomicOutputFolder(destination: output, force: force, inputs: [checkpoint])
            let sink = ModelFolderWriter(
                output: folder, layout: folderLayout,
                options: .init(sourceFolder: modelDir ?? parentFolder(of: checkpoint),
                               maxShardBytes: maxShardSize.flatMap(parseByteSize) ?? 5_000_000_000))
            try export(file, to: sink, commit: { try folder.commit() }, discard: { folder.discard() })
            return
        }
        let destination = try AtomicOutputFile(destination: output, force: force, inputs: [checkpoint])
        let sink = SafeTensorsWriter(
            output: destination, layout: layout == .int8 ? .int8 : .dequantized(dtype?.dtype))
        try export(file, to: sink, commit: { try destination.commit() }, discard: { destination.discard() })
        // After success only: a refused export stays one line on stderr.
        if layout == .int8 && !quiet {
            printToStandardError("swiftquant: warning: bare int8 safetensors load in no runtime without a config (transformers casts the codes to floats silently); for a folder transformers or MLX load as it is, use --layout compressed-tensors or --layout mlx")
        }
    }

    /// Streams every entry of `file` into `sink`, then commits (or discards on any error).
    private func export(
        _ file: CheckpointFile, to sink: any TensorWriter, commit: () throws -> Void, discard: () -> Void
    ) throws {
        var metadata = file.metadata
        metadata["swiftquant.layout"] = .string(layout.rawValue)
        let bar = ProgressBar(enabled: !quiet)
        do {
            try sink.begin(tensors: file.tensors, metadata: metadata)
            let totalBytes = file.tensors.reduce(0) { $0 + $1.byteCount }
            var doneBytes = 0
            for (index, entry) in file.entries.enumerated() {
                try write(entry, from: file, to: sink)
                file.releasePages(for: entry.name)
                doneBytes += entry.values.rawLength
                bar.update(tensorsDone: index + 1, tensorCount: file.entries.count, bytesDone: doneBytes, totalBytes: totalBytes)
            }
            try sink.finish()
            bar.finish()
            try commit()
        } catch {
            bar.finish()
            discard()
            throw error
        }
    }

    private func write(_ entry: CheckpointEntry, from file: CheckpointFile, to sink: any TensorWriter) throws {
        guard entry.quantization != nil else {
            let data = try file.data(for: entry.name)
            try withExtendedLifetime(data) {
                try sink.write(ConvertedTensor(
                    name: entry.name, shape: entry.shape, sourceDType: entry.sourceDType,
                    content: .kept(dtype: entry.dtype, bytes: data.bytes)))
            }
            return
        }
        guard let weight = try file.quantizedWeight(for: entry.name) else { return }
        try sink.write(ConvertedTensor(
            name: entry.name, shape: entry.shape, sourceDType: entry.sourceDType,
            content: .quantized(weight, metrics: entry.metrics)))
    }
}
