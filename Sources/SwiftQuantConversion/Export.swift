import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantPlan
import SwiftQuantSafeTensors
import SwiftQuantCheckpoint

/// How ``export(checkpoint:output:layout:dtype:force:progress:)`` writes quantized tensors.
public enum ExportLayout: String, Sendable, Hashable, CaseIterable {
    /// Each quantized `NAME` as I8 plus `NAME_scale` as F32 (compressed-tensors' shapes).
    case int8
    /// `code × scale` as floats.
    case dequantized
}

/// Writes a SwiftQuant checkpoint as a safetensors file: what `swiftquant export` does.
///
/// The same ``Converter`` as a conversion streams the tensors, passing the checkpoint's
/// quantized weights through unchanged and its kept tensors byte for byte; the output is
/// atomic. The file's metadata is the checkpoint's, plus `swiftquant.layout`.
///
/// - Parameters:
///   - dtype: for ``ExportLayout/dequantized``, the float type to write; `nil` writes each
///     tensor in the dtype it was converted from. Ignored for ``ExportLayout/int8``.
///   - progress: called after each tensor, on the calling thread.
public func export(
    checkpoint: String, output: String, layout: ExportLayout, dtype: DType? = nil, force: Bool = false,
    progress: (ConversionProgress) -> Void = { _ in }
) throws {
    let file = try CheckpointFile(path: checkpoint)
    AtomicOutputFile.removeTemporaryFilesOnSignal()
    let destination = try AtomicOutputFile(destination: output, force: force, inputs: [checkpoint])
    let sink = SafeTensorsWriter(output: destination, layout: layout == .int8 ? .int8 : .dequantized(dtype))
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
        try destination.commit()
    } catch {
        destination.discard()
        throw error
    }
}
