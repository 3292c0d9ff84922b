import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantPlan

extension Array where Element == TensorDecision {
    /// The plan's decisions adapted to what `writer` stores, decided before anything is read
    /// or quantized, so no output exists when this throws:
    /// - a ggml block type the writer cannot keep: Q8_0 kept "as the source" is stored as F32
    ///   instead (exact: q × d needs at most 19 significant bits); any other block type
    ///   (Q4_K, IQ2_XS, …), which SwiftQuant cannot decode, throws
    ///   ``OutputAdaptationError/undecodableBlockType(path:tensor:dtype:format:)``;
    /// - a tensor to quantize whose shape the writer's scheme cannot hold (Q8_0 rows that are
    ///   not a multiple of 32 long) is kept as F16, with a note saying why.
    ///
    /// `format` names the output in the error (`GGUF`, `safetensors`, `SwiftQuant checkpoint`).
    public func adapted(to writer: any TensorWriter, source: any TensorSource, format: String) throws -> [TensorDecision] {
        if let blocked = first(where: {
            $0.tensor.dtype.isBlockQuantized && !$0.tensor.dtype.isDecodableFloat && !writer.canKeep($0.tensor.dtype)
        }) {
            throw OutputAdaptationError.undecodableBlockType(
                path: source.path, tensor: blocked.tensor.name, dtype: blocked.tensor.dtype, format: format)
        }
        return map { decision in
            var adapted = decision
            switch decision.action {
            case .keep(.source) where !writer.canKeep(decision.tensor.dtype):
                adapted.action = .keep(.f32)
                adapted.reason += " (\(decision.tensor.dtype.rawValue) stored as F32: only GGUF holds \(decision.tensor.dtype.rawValue))"
            case .quantize(let granularity):
                let scheme = writer.storedScheme(forPlanned: granularity)
                if let reason = scheme.unsupportedReason(for: decision.tensor.shape) {
                    adapted.action = .keep(.f16)
                    adapted.notes.append("written as F16: \(reason)")
                }
            default:
                break
            }
            return adapted
        }
    }
}

/// A plan that the chosen output format cannot carry out.
public enum OutputAdaptationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A ggml block type SwiftQuant cannot decode, going to a format that cannot keep it.
    case undecodableBlockType(path: String, tensor: String, dtype: DType, format: String)

    public var description: String {
        switch self {
        case .undecodableBlockType(let path, let tensor, let dtype, let format):
            "\(path): tensor '\(printableInMessage(tensor))' is \(dtype.rawValue), a ggml block type SwiftQuant cannot decode (it decodes Q8_0 and floats), so it cannot go into \(format) output; write GGUF output to keep it as is, or re-export the model as F16, BF16 or Q8_0"
        }
    }
}
