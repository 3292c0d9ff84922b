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
        let size = gamma.count
        precondition(x.count == rows * size, "LayerNorm.apply: \(x.count) values are not \(rows) rows of \(size)")
        for r in 0..<rows {
            let base = r * size
            var sum = 0.0
            for j in 0..<size { sum += Double(x[base + j]) }
            let mean = sum / Double(size)
            var squares = 0.0
            for j in 0..<size {
                let centered = Double(x[base + j]) - mean
                squares += centered * centered
            }
            let inverse = 1 / (squares / Double(size) + Double(epsilon)).squareRoot()
            for j in 0..<size {
                x[base + j] = Float((Double(x[base + j]) - mean) * inverse) * gamma[j] + beta[j]
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
