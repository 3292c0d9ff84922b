import SwiftQuant
import SwiftQuantBench

extension Convert {
    /// The plan's decisions adapted to what `format` can store. GGUF sources hold ggml block
    /// types; a GGUF output keeps them byte for byte, but no other format has them:
    /// - a Q8_0 tensor kept "as the source" is stored as F32 instead (exact: q × d needs at
    ///   most 19 significant bits), so the output stays valid safetensors or checkpoint;
    /// - any other block type (Q4_K, IQ2_XS, …), which SwiftQuant cannot decode, is refused up
    ///   front, before any output exists.
    static func decisions(
        _ decisions: [TensorDecision], storableIn format: OutputFormat, input: String
    ) throws -> [TensorDecision] {
        guard format != .gguf else { return decisions }
        if let blocked = decisions.first(where: { $0.tensor.dtype.isBlockQuantized && !$0.tensor.dtype.isDecodableFloat }) {
            throw BlockTypeError(path: input, tensor: blocked.tensor.name, dtype: blocked.tensor.dtype, format: format.rawValue)
        }
        return decisions.map { decision in
            guard decision.tensor.dtype.isBlockQuantized, decision.action == .keep(.source) else { return decision }
            var adapted = decision
            adapted.action = .keep(.f32)
            adapted.reason += " (Q8_0 stored as F32: only GGUF holds Q8_0)"
            return adapted
        }
    }
}

/// A ggml block type that only a GGUF output can carry.
struct BlockTypeError: Error, CustomStringConvertible {
    var path: String
    var tensor: String
    var dtype: DType
    var format: String

    var description: String {
        "\(path): tensor '\(printable(tensor))' is \(dtype.rawValue), a ggml block type SwiftQuant cannot decode (it decodes Q8_0 and floats), so it cannot go into \(format) output; use --format gguf to keep it as is, or re-export the model as F16, BF16 or Q8_0"
    }

    private func printable(_ name: String) -> String {
        String(name.unicodeScalars.map { $0.value < 0x20 ? "?" : Character($0) })
    }
}
