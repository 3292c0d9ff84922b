import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantPlan
import SwiftQuantSafeTensors
import SwiftQuantCheckpoint
import SwiftQuantModelFolder

/// How ``export(checkpoint:output:layout:dtype:force:maxShardBytes:modelDirectory:progress:)`` writes quantized tensors.
public enum ExportLayout: String, Sendable, Hashable, CaseIterable {
    /// Each quantized `NAME` as I8 plus `NAME_scale` as F32 (compressed-tensors' shapes).
    case int8
    /// `code × scale` as floats.
    case dequantized
    /// A model folder transformers loads (compressed-tensors' int8 layout, config.json beside).
    case compressedTensors = "compressed-tensors"
    /// A model folder mlx-lm loads (needs weights quantized per group of 32, 64 or 128).
    case mlx

    /// The model-folder layout this layout writes, or `nil` for a single safetensors file.
    public var folderLayout: ModelFolderLayout? {
        switch self {
        case .compressedTensors: .compressedTensors
        case .mlx: .mlx
        case .int8, .dequantized: nil
        }
    }
}

/// Writes a SwiftQuant checkpoint as a safetensors file: what `swiftquant export` does.
///
/// The same ``Converter`` as a conversion streams the tensors, passing the checkpoint's
/// quantized weights through unchanged and its kept tensors byte for byte; the output is
/// atomic. The file's metadata is the checkpoint's, plus `swiftquant.layout`.
///
/// - Parameters:
///   - dtype: for ``ExportLayout/dequantized``, the float type to write; `nil` writes each
///     tensor in the dtype it was converted from. Ignored for the other layouts.
///   - maxShardBytes: for a model folder, its largest weights file.
///   - modelDirectory: for a model folder, the folder whose config.json and tokenizer files
///     it gets (default: the checkpoint's folder).
///   - progress: called after each tensor, on the calling thread.
public func export(
    checkpoint: String, output: String, layout: ExportLayout, dtype: DType? = nil, force: Bool = false,
    maxShardBytes: Int = 5_000_000_000, modelDirectory: String? = nil,
    progress: (ConversionProgress) -> Void = { _ in }
) throws {
    let file = try CheckpointFile(path: checkpoint)
    AtomicOutputFile.removeTemporaryFilesOnSignal()
    let target: OutputTarget
    if let folderLayout = layout.folderLayout {
        let folder = try AtomicOutputFolder(destination: output, force: force, inputs: [checkpoint])
        let writer = ModelFolderWriter(
            output: folder, layout: folderLayout,
            options: .init(sourceFolder: modelDirectory ?? parentFolder(of: checkpoint), maxShardBytes: maxShardBytes))
        target = OutputTarget(writer: writer, commit: { try folder.commit() }, discard: { folder.discard() })
    } else {
        let destination = try AtomicOutputFile(destination: output, force: force, inputs: [checkpoint])
        target = OutputTarget(
            writer: SafeTensorsWriter(output: destination, layout: layout == .int8 ? .int8 : .dequantized(dtype)),
            file: destination)
    }
    let sink = target.writer
    var metadata = file.metadata
    metadata["swiftquant.layout"] = .string(layout.rawValue)
    let decisions = file.tensors.map { tensor in
        TensorDecision(
            tensor: tensor, action: tensor.storage?.quantization.map { .quantize($0) } ?? .keep(.source),
            reason: "stored in the checkpoint")
    }
    let converter = Converter(
        source: file, decisions: decisions, sink: sink, metadata: metadata, passesQuantizedThrough: true)
    do {
        _ = try converter.run(progress: progress)
        try target.commit()
    } catch {
        target.discard()
        throw error
    }
}
