import SwiftQuantCore
import SwiftQuantKernels

/// Root-mean-square normalisation, `y = x / sqrt(mean(x²) + ε) · weight`, over the last dimension.
///
/// The normalisation of llama-family decoders (Hugging Face's `LlamaRMSNorm`): no mean is
/// subtracted and there is no bias. The mean of squares is accumulated in Double so that long
/// rows do not lose the small terms a Float sum would drop.
public struct RMSNorm: Sendable {
    /// One gain per feature.
    public let weight: [Float]
    /// Added to the mean of squares before the square root (`rms_norm_eps`).
    public let epsilon: Float

    /// Creates a norm over `weight.count` features.
    public init(weight: [Float], epsilon: Float) {
        self.weight = weight
        self.epsilon = epsilon
    }

    /// Normalises every row of `x` (shape `[..., weight.count]`).
    ///
    /// - Throws: ``LayerError/inputShapeMismatch(inFeatures:actual:)`` when the last dimension
    ///   is not `weight.count`.
    public func callAsFunction(_ x: FloatTensor) throws(LayerError) -> FloatTensor {
        guard let width = x.shape.last, width == weight.count, width > 0 else {
            throw .inputShapeMismatch(inFeatures: weight.count, actual: x.shape)
        }
        var out = x
        apply(&out.storage, rows: x.storage.count / width)
        return out
    }

    /// Normalises `rows` consecutive rows of `weight.count` values in place.
    package func apply(_ values: inout [Float], rows: Int) {
        let width = weight.count
        values.withUnsafeMutableBufferPointer { buffer in
            weight.withUnsafeBufferPointer { gain in
                for row in 0..<rows {
                    let base = buffer.baseAddress! + row * width
                    var sum: Double = 0
                    for i in 0..<width { sum += Double(base[i]) * Double(base[i]) }
                    // As the reference: the inverse root in Float32 of the Float32 mean.
                    let inverse = 1 / (Float(sum / Double(width)) + epsilon).squareRoot()
                    for i in 0..<width { base[i] = gain[i] * (base[i] * inverse) }
                }
            }
        }
    }
}
