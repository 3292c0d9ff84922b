import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantPlan
import SwiftQuantGGUF

extension Array where Element == TensorDecision {
    /// The plan's decisions adapted to what `writer` stores, decided before anything is read
    /// or quantized, so no output exists when this throws:
    /// - a ggml block type the writer cannot keep: Q8_0 kept "as the source" is stored as F32
    ///   instead (exact: q × d needs at most 19 significant bits); any other block type
    ///   (Q4_K, IQ2_XS, …), which SwiftQuant cannot decode, throws
    ///   ``OutputAdaptationError/undecodableBlockType(path:tensor:dtype:format:)``;
    /// - a tensor to quantize whose shape the writer's scheme cannot hold (Q8_0 rows that are
    ///   not a multiple of 32 long) is kept as F16, with a note saying why (llama-quantize
    ///   falls back to F16 too);
    /// - for GGUF: a tensor llama.cpp never quantizes (`LlamaQuantizeRules` in SwiftQuantPlan) is kept, whatever
    ///   made the decisions, because llama.cpp's CPU backend may have no Q8_0 kernel for it; and
    ///   a tensor that is Q8_0 already is copied as it is, as llama-quantize does, rather than
    ///   decoded and quantized again.
    ///
    /// `format` names the output in the error (`GGUF`, `safetensors`, `SwiftQuant checkpoint`).
    public func adapted(to writer: any TensorWriter, source: any TensorSource, format: String) throws -> [TensorDecision] {
        try adapted(
            canKeep: writer.canKeep, storedScheme: writer.storedScheme(forPlanned:),
            ggufArchitecture: (writer as? GGUFWriter).map { $0.options.architecture }, source: source, format: format)
    }

    /// The decisions adapted to GGUF output for `architecture`, as
    /// ``adapted(to:source:format:)`` adapts them to a `GGUFWriter`: what `plan` shows for a
    /// `.gguf` output without opening one.
    public func adaptedToGGUF(architecture: String?, source: any TensorSource) throws -> [TensorDecision] {
        try adapted(
            canKeep: { $0.layout.ggmlType != nil }, storedScheme: { _ in .q8_0 },
            ggufArchitecture: .some(architecture), source: source, format: "GGUF")
    }

    private func adapted(
        canKeep: (DType) -> Bool, storedScheme: (Granularity) -> QuantizationDescriptor,
        ggufArchitecture: String??, source: any TensorSource, format: String
    ) throws -> [TensorDecision] {
        if let blocked = first(where: {
            $0.tensor.dtype.isBlockQuantized && !$0.tensor.dtype.isDecodableFloat && !canKeep($0.tensor.dtype)
        }) {
            throw OutputAdaptationError.undecodableBlockType(
                path: source.path, tensor: blocked.tensor.name, dtype: blocked.tensor.dtype, format: format)
        }
        return map { decision in
            var adapted = decision
            if let architecture = ggufArchitecture, decision.quantizes {
                if let never = LlamaQuantizeRules.neverQuantizedReason(for: decision.tensor, architecture: architecture) {
                    adapted.action = .keep(decision.fallbackKeepDType)
                    adapted.reason = "\(never) (overrides \(decision.reason))"
                    return adapted
                }
                if decision.tensor.dtype == .q8_0 {
                    adapted.action = .keep(.source)
                    adapted.notes.append("already Q8_0: copied as it is")
                    return adapted
                }
            }
            switch decision.action {
            case .keep(.source) where !canKeep(decision.tensor.dtype):
                adapted.action = .keep(.f32)
                adapted.reason += " (\(decision.tensor.dtype.rawValue) stored as F32: only GGUF holds \(decision.tensor.dtype.rawValue))"
            case .quantize(let granularity):
                let scheme = storedScheme(granularity)
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
