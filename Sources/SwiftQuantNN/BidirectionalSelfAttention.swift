import CSwiftQuantKernels
import Foundation
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
        let projected: [FloatTensor]
        if let shared = try QuantizedLinear.forwardSharingActivations(input, layers: [query, key, value]) {
            // W8A8 projections: the input is quantized once for all three.
            projected = shared
        } else {
            projected = [try query.forward(input), try key.forward(input), try value.forward(input)]
        }
        let context = try scaledDotProductAttention(
            query: projected[0], key: projected[1], value: projected[2], headCount: headCount)
        return try output.forward(context)
    }
}

/// `softmax(Q·Kᵀ / √d) · V` per head, for `[tokens, heads × d]` tensors, with no mask; returns
/// the heads side by side, `[tokens, heads × d]`.
///
/// The products have only `d` (32 for MiniLM) terms each, too few for the weight kernels to pay
/// off: one kernel per head computes a row of scores (accumulating over the `d` columns for all
/// keys at once), its softmax and its share of V while they are in cache, with no copies.
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
    let isa = KernelISA.active.rawValue
    var failed = false
    let context = [Float](unsafeUninitializedCapacity: n * h) { out, initialized in
        q.storage.withUnsafeBufferPointer { qp in
            k.storage.withUnsafeBufferPointer { kp in
                v.storage.withUnsafeBufferPointer { vp in
                    let attention = sqk_attention(
                        query: qp.baseAddress, key: kp.baseAddress, value: vp.baseAddress, output: out.baseAddress,
                        tokens: n, width: h, head_dim: d, scale: 1 / Float(d).squareRoot())
                    // Heads are independent (each writes its own columns); short sequences stay
                    // on one thread, where starting workers would cost more than the heads.
                    let minimumHeads = n * n * d < 1 << 14 ? headCount : 1
                    let status = SendableFlag()
                    parallelRanges(headCount, minimumChunk: minimumHeads) { range in
                        withUnsafePointer(to: attention) { pointer in
                            if sqk_attention_heads(isa, pointer, range.lowerBound, range.upperBound) != 0 { status.set() }
                        }
                    }
                    failed = status.isSet
                }
            }
        }
        if failed { out.initialize(repeating: 0) }
        initialized = n * h
    }
    guard !failed else { throw .workspaceUnavailable(bytes: 4 * (d * n + n + d)) }
    return FloatTensor(uncheckedShape: [n, h], storage: context)
}

/// Set by any worker that fails; read after they have all finished.
final class SendableFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
