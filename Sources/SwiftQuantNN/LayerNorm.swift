import CSwiftQuantKernels
import SwiftQuantCore
import SwiftQuantKernels

/// LayerNorm over the last dimension, `(x − mean) / sqrt(var + ε) · γ + β`, as BERT uses it.
///
/// The mean and variance are accumulated in Double: a Float32 sum over a few hundred features
/// would cost more accuracy than a 1e-4 embedding budget allows.
///
/// ```swift
/// let norm = try LayerNorm(gamma: [1, 1], beta: [0, 0], epsilon: 1e-12)
/// var rows: [Float] = [1, 3]
/// norm.apply(&rows, rows: 1)   // [-1, 1]
/// ```
public struct LayerNorm: Sendable {
    /// The per-feature scale γ.
    public let gamma: [Float]
    /// The per-feature shift β.
    public let beta: [Float]
    /// Added to the variance before the square root.
    public let epsilon: Float

    /// Creates a LayerNorm over `gamma.count` features.
    ///
    /// - Throws: ``LayerError/biasCountMismatch(expected:actual:)`` when `beta` does not have
    ///   one value per entry of `gamma`, ``LayerError/invalidFeatureCount(inFeatures:outFeatures:)``
    ///   when `gamma` is empty.
    public init(gamma: [Float], beta: [Float], epsilon: Float) throws(LayerError) {
        guard !gamma.isEmpty else { throw .invalidFeatureCount(inFeatures: 0, outFeatures: 0) }
        guard beta.count == gamma.count else { throw .biasCountMismatch(expected: gamma.count, actual: beta.count) }
        self.gamma = gamma
        self.beta = beta
        self.epsilon = epsilon
    }

    /// The number of features each row has.
    public var size: Int { gamma.count }

    /// Normalizes `rows` consecutive rows of ``size`` values in place.
    ///
    /// - Precondition: `x.count == rows * size`.
    public func apply(_ x: inout [Float], rows: Int) {
        apply(&x, rows: rows, adding: nil)
    }

    /// Replaces `x` by `LayerNorm(x + residual)`, row by row: the residual connection and the
    /// norm in one pass over the activations (the sum is rounded to Float32 first, exactly as
    /// adding the arrays beforehand would).
    ///
    /// - Precondition: `x.count == rows * size`, and `residual` (when given) has as many values.
    public func apply(_ x: inout [Float], rows: Int, adding residual: [Float]?) {
        let size = gamma.count
        precondition(x.count == rows * size, "LayerNorm.apply: \(x.count) values are not \(rows) rows of \(size)")
        precondition(residual == nil || residual!.count == x.count, "LayerNorm.apply: the residual has another size")
        let isa = KernelISA.active.rawValue
        let epsilon = epsilon
        x.withUnsafeMutableBufferPointer { values in
            gamma.withUnsafeBufferPointer { gamma in
                beta.withUnsafeBufferPointer { beta in
                    withOptionalPointer(residual) { residual in
                        sqk_layernorm_rows(isa, values.baseAddress, residual, values.baseAddress, gamma.baseAddress,
                                           beta.baseAddress, epsilon, size, 0, rows)
                    }
                }
            }
        }
    }

    /// Normalizes every row of a tensor of shape `[..., size]`.
    ///
    /// - Throws: ``LayerError/inputShapeMismatch(inFeatures:actual:)`` when the last dimension is not ``size``.
    public func forward(_ input: FloatTensor) throws(LayerError) -> FloatTensor {
        let rows = try batchRows(of: input.shape, inFeatures: size)
        var values = input.storage
        apply(&values, rows: rows)
        return FloatTensor(uncheckedShape: input.shape, storage: values)
    }
}
