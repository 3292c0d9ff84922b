import SwiftQuantPlan
import SwiftQuantReaders

extension Convert {
    /// GGUF sources may hold ggml block types SwiftQuant cannot decode (Q4_K, IQ2_XS, …). The
    /// plan keeps them as stored; a GGUF output can hold them byte for byte, but no other
    /// format can use them, so converting to one is refused up front, before any output exists.
    static func checkBlockTypes(_ decisions: [TensorDecision], input: String, format: OutputFormat) throws {
        guard format != .gguf else { return }
        if let blocked = decisions.first(where: { $0.tensor.dtype.isBlockQuantized && !$0.tensor.dtype.isDecodableFloat }) {
            throw BlockTypeError(path: input, tensor: blocked.tensor.name, dtype: blocked.tensor.dtype, format: format.rawValue)
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
