import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantPlan
import SwiftQuantSafeTensors
import SwiftQuantGGUF
import SwiftQuantCheckpoint

/// A tensor that a quantize decision could not be carried out on.
public enum TensorResolutionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The weights hold a NaN or an infinity (or do not fit the shape).
    case cannotQuantize(path: String, tensor: String, problem: KernelError)

    public var description: String {
        switch self {
        case .cannotQuantize(let path, let tensor, let problem):
            "\(path): tensor '\(printableInMessage(tensor))': \(problem)"
        }
    }
}

extension TensorSource {
    /// Reads the tensor `decision` is about as Float32 and resolves it (see
    /// `resolve(_:weights:)`); a keep decision returns without reading anything.
    ///
    /// `plan --measure` and `convert` both go through here. The caller releases the
    /// tensor's pages (`TensorSource.releasePages(for:)`) once it has used the result.
    public func resolve(
        _ decision: TensorDecision, storing: (Granularity) -> QuantizationDescriptor = { .symmetricInt8($0) }
    ) throws -> ResolvedDecision {
        guard decision.quantizes else {
            return ResolvedDecision(action: decision.action, quantized: nil, metrics: nil, attempts: [], note: nil)
        }
        let name = decision.tensor.name
        let floats = try floats(for: name)
        do throws(KernelError) {
            let weights = try FloatTensor(shape: decision.tensor.shape, storage: floats)
            return try SwiftQuantConversion.resolve(decision, weights: weights, storing: storing)
        } catch {
            throw TensorResolutionError.cannotQuantize(path: path, tensor: name, problem: error)
        }
    }
}
