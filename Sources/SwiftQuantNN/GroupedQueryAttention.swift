import CSwiftQuantKernels
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
        let attended = try attend(queries: q.storage, rows: rows, past: past, cache: cache)
        return try output.forward(FloatTensor(uncheckedShape: [rows, heads * headDimension], storage: attended))
    }

    /// softmax(q·kᵀ/√d)·v per (head, row), over positions `0...past + row`, in
    /// `sqk_causal_attention_tasks` (one task per (head, row); each writes only its own slice).
    func attend(queries: [Float], rows: Int, past: Int, cache: LayerKeyValueCache) throws(LayerError) -> [Float] {
        let d = headDimension
        let tasks = heads * rows
        let isa = KernelISA.active.rawValue
        var result = [Float](repeating: 0, count: rows * heads * d)
        let failed = cache.withStorage { keys, values, headStride in
            queries.withUnsafeBufferPointer { q in
                result.withUnsafeMutableBufferPointer { out in
                    var problem = sqk_causal_attention(
                        query: q.baseAddress, keys: keys, values: values, output: out.baseAddress,
                        rows: rows, past: past, heads: heads, kv_heads: kvHeads, head_dim: d,
                        head_stride: headStride, scale: 1 / Float(d).squareRoot())
                    let status = SendableFlag()
                    // A task costs about (past + rows) × d multiply-adds twice; small totals stay on one thread.
                    let minimumTasks = max(1, (1 << 16) / max(1, (past + rows) * d))
                    withUnsafePointer(to: &problem) { pointer in
                        parallelRanges(tasks, minimumChunk: minimumTasks) { range in
                            if sqk_causal_attention_tasks(isa, pointer, range.lowerBound, range.upperBound) != 0 { status.set() }
                        }
                    }
                    return status.isSet
                }
            }
        }
        if failed { throw .workspaceUnavailable(bytes: (past + rows) * MemoryLayout<Float>.size) }
        return result
    }
}
