import SwiftQuantCore
import SwiftQuantKernels

/// Multi-head self-attention without a mask, as BERT's encoder uses it: every token attends
/// to every token of the sequence, in both directions.
///
/// Holds the four projections (float ``Linear`` or INT8 ``QuantizedLinear``) and runs
/// `output(softmax(Q·Kᵀ / √d) · V)` per head, with `d = hiddenSize / headCount`.
public struct BidirectionalSelfAttention: Sendable {
    /// `x → Q`, `[hiddenSize, hiddenSize]`.
    public let query: any LinearLayer
    /// `x → K`.
    public let key: any LinearLayer
    /// `x → V`.
    public let value: any LinearLayer
    /// The projection of the concatenated heads.
    public let output: any LinearLayer
    /// The number of heads the hidden size is split into.
    public let headCount: Int

    /// Creates the block from its four projections.
    ///
    /// - Throws: ``LayerError/weightShapeMismatch(expected:actual:)`` unless all four are square
    ///   with the same size, a multiple of `headCount`.
    public init(
        query: any LinearLayer, key: any LinearLayer, value: any LinearLayer, output: any LinearLayer, headCount: Int
    ) throws(LayerError) {
        let hidden = query.inFeatures
        for layer in [query, key, value, output] where layer.inFeatures != hidden || layer.outFeatures != hidden {
            throw .weightShapeMismatch(expected: [hidden, hidden], actual: [layer.outFeatures, layer.inFeatures])
        }
        guard headCount > 0, hidden % headCount == 0 else {
            throw .invalidFeatureCount(inFeatures: hidden, outFeatures: headCount)
        }
        (self.query, self.key, self.value, self.output, self.headCount) = (query, key, value, output, headCount)
    }

    /// The same block with every projection replaced by `transform(layer)`.
    public func mapLayers(_ transform: (any LinearLayer) throws -> any LinearLayer) throws -> BidirectionalSelfAttention {
        try BidirectionalSelfAttention(
            query: transform(query), key: transform(key), value: transform(value), output: transform(output),
            headCount: headCount)
    }

    /// Attends over the rows of `input`, `[tokens, hiddenSize]`; returns `[tokens, hiddenSize]`
    /// (the output projection applied, no residual).
    ///
    /// - Throws: ``LayerError/inputShapeMismatch(inFeatures:actual:)`` unless `input` is 2-D with
    ///   `hiddenSize` columns.
    public func forward(_ input: FloatTensor) throws(LayerError) -> FloatTensor {
        guard input.shape.count == 2 else { throw .inputShapeMismatch(inFeatures: query.inFeatures, actual: input.shape) }
        let context = try scaledDotProductAttention(
            query: query.forward(input), key: key.forward(input), value: value.forward(input), headCount: headCount)
        return try output.forward(context)
    }
}

/// `softmax(Q·Kᵀ / √d) · V` per head, for `[tokens, heads × d]` tensors, with no mask; returns
/// the heads side by side, `[tokens, heads × d]`.
///
/// The products have only `d` (32 for MiniLM) terms each, too few for the weight kernels to pay off.
///
/// - Throws: ``LayerError/inputShapeMismatch(inFeatures:actual:)`` unless all three are 2-D with
///   the same shape and the width is a multiple of `headCount`.
public func scaledDotProductAttention(
    query q: FloatTensor, key k: FloatTensor, value v: FloatTensor, headCount: Int
) throws(LayerError) -> FloatTensor {
    guard q.shape.count == 2, k.shape == q.shape, v.shape == q.shape, headCount > 0, q.shape[1] % headCount == 0 else {
        throw .inputShapeMismatch(inFeatures: q.shape.last ?? 0, actual: k.shape == q.shape ? v.shape : k.shape)
    }
    let n = q.shape[0], h = q.shape[1]
    let d = h / headCount
    guard n > 0 else { return FloatTensor(uncheckedShape: [0, h], storage: []) }
    var context = [Float](repeating: 0, count: n * h)
    let scale = 1 / Float(d).squareRoot()
    for head in 0..<headCount {
        let offset = head * d
        var qh = [Float](repeating: 0, count: n * d)
        var kh = [Float](repeating: 0, count: n * d)
        // Vᵀ for this head, so that probabilities · V is another x · Wᵀ product.
        var vt = [Float](repeating: 0, count: d * n)
        for t in 0..<n {
            for j in 0..<d {
                qh[t * d + j] = q.storage[t * h + offset + j] * scale
                kh[t * d + j] = k.storage[t * h + offset + j]
                vt[j * n + t] = v.storage[t * h + offset + j]
            }
        }
        var scores = try multiplyTransposed(
            FloatTensor(uncheckedShape: [n, d], storage: qh), FloatTensor(uncheckedShape: [n, d], storage: kh))
        softmaxRows(&scores.storage, rows: n, columns: n)
        let headContext = try multiplyTransposed(scores, FloatTensor(uncheckedShape: [d, n], storage: vt))
        for t in 0..<n {
            for j in 0..<d { context[t * h + offset + j] = headContext.storage[t * d + j] }
        }
    }
    return FloatTensor(uncheckedShape: [n, h], storage: context)
}
