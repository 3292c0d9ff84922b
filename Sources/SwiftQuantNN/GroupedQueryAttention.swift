import SwiftQuantCore
import SwiftQuantKernels

/// Causal multi-head attention with grouped key/value heads (GQA) and rotary positions, as in
/// llama-family decoders: `heads` query heads share `kvHeads` key/value heads, query head `h`
/// reading key/value head `h / (heads / kvHeads)`.
///
/// The projections are any ``LinearLayer`` (float or INT8); biases on q/k/v (Qwen2) come with
/// the layers. Runs on a whole prompt at once (each row attends to the cache and the rows
/// before it) or on one token.
public struct GroupedQueryAttention: Sendable {
    public let query: any LinearLayer
    public let key: any LinearLayer
    public let value: any LinearLayer
    public let output: any LinearLayer
    /// Query heads.
    public let heads: Int
    /// Key/value heads (divides `heads`).
    public let kvHeads: Int
    /// Features per head.
    public let headDimension: Int
    /// The rotation applied to queries and keys.
    public let rotary: RotaryEmbedding

    /// Creates the block; the layers' feature counts must fit the head counts.
    ///
    /// - Throws: ``LayerError/weightShapeMismatch(expected:actual:)`` naming the expected
    ///   `[outFeatures, inFeatures]` of the first projection that does not fit.
    public init(
        query: any LinearLayer, key: any LinearLayer, value: any LinearLayer, output: any LinearLayer,
        heads: Int, kvHeads: Int, headDimension: Int, rotary: RotaryEmbedding
    ) throws(LayerError) {
        guard heads > 0, kvHeads > 0, heads % kvHeads == 0, headDimension > 0 else {
            throw .invalidFeatureCount(inFeatures: heads, outFeatures: kvHeads)
        }
        let hidden = query.inFeatures
        for (layer, out) in [(query, heads * headDimension), (key, kvHeads * headDimension), (value, kvHeads * headDimension)]
        where layer.outFeatures != out || layer.inFeatures != hidden {
            throw .weightShapeMismatch(expected: [out, hidden], actual: [layer.outFeatures, layer.inFeatures])
        }
        guard output.inFeatures == heads * headDimension else {
            throw .weightShapeMismatch(expected: [output.outFeatures, heads * headDimension], actual: [output.outFeatures, output.inFeatures])
        }
        self.query = query
        self.key = key
        self.value = value
        self.output = output
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDimension = headDimension
        self.rotary = rotary
    }

    /// Attends `x` (shape `[rows, hidden]`, the positions right after those in `cache`) to the
    /// cache and to itself causally, appends its keys and values to `cache`, and returns
    /// `[rows, output.outFeatures]`.
    public func callAsFunction(_ x: FloatTensor, cache: inout LayerKeyValueCache) throws(LayerError) -> FloatTensor {
        guard x.shape.count == 2 else { throw .inputShapeMismatch(inFeatures: query.inFeatures, actual: x.shape) }
        let rows = x.shape[0]
        let past = cache.count
        var q = try query.forward(x)
        var k = try key.forward(x)
        let v = try value.forward(x)
        rotary.apply(&q.storage, rows: rows, heads: heads, firstPosition: past)
        rotary.apply(&k.storage, rows: rows, heads: kvHeads, firstPosition: past)
        cache.append(keys: k.storage, values: v.storage, rows: rows)
        let attended = attend(queries: q.storage, rows: rows, past: past, cache: cache)
        return try output.forward(FloatTensor(uncheckedShape: [rows, heads * headDimension], storage: attended))
    }

    /// softmax(q·kᵀ/√d)·v per (head, row), over positions `0...past + row`.
    func attend(queries: [Float], rows: Int, past: Int, cache: LayerKeyValueCache) -> [Float] {
        let d = headDimension
        let width = heads * d
        let group = heads / kvHeads
        let scale = 1 / Float(d).squareRoot()
        let total = past + rows
        var result = [Float](repeating: 0, count: rows * width)
        cache.withStorage { keys, values, headStride in
            queries.withUnsafeBufferPointer { q in
                result.withUnsafeMutableBufferPointer { out in
                    nonisolated(unsafe) let out = out
                    // One task per (head, row); each writes only its own output slice.
                    let tasks = heads * rows
                    let pieces = min(tasks, Parallelism.threads * 4)
                    let work = { (piece: Int) in
                        var scores = [Float](repeating: 0, count: total)
                        scores.withUnsafeMutableBufferPointer { scoreBuffer in
                            let s = scoreBuffer.baseAddress!
                            for task in (tasks * piece / pieces)..<(tasks * (piece + 1) / pieces) {
                                let head = task / rows, row = task % rows
                                let kvHead = head / group
                                let visible = past + row + 1
                                let qRow = q.baseAddress! + row * width + head * d
                                let kBase = keys + kvHead * headStride
                                let vBase = values + kvHead * headStride
                                for j in 0..<visible { s[j] = dotProduct(qRow, kBase + j * d, count: d) * scale }
                                softmaxInPlace(s, count: visible)
                                let o = out.baseAddress! + row * width + head * d
                                for j in 0..<visible { addScaled(o, vBase + j * d, s[j], count: d) }
                            }
                        }
                    }
                    if pieces <= 1 || tasks * total * d < 1 << 15 {
                        for piece in 0..<max(pieces, 1) where tasks > 0 { work(piece) }
                    } else {
                        performConcurrently(iterations: pieces, work)
                    }
                }
            }
        }
        return result
    }
}
