import Foundation
import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantNN

/// A BERT encoder (post-LayerNorm, absolute positions, erf GELU) whose linear layers are
/// either float `Linear` or INT8 `QuantizedLinear`.
///
/// Embeddings and LayerNorm parameters are always Float32. One sequence runs at a time, so
/// there is no padding and the attention mask is all ones.
public struct BertEncoder: Sendable {
    /// The sizes the weights were checked against.
    public let configuration: BertConfiguration
    /// `[vocabularySize, hiddenSize]`.
    let wordEmbeddings: [Float]
    /// `[maximumPositions, hiddenSize]`.
    let positionEmbeddings: [Float]
    /// The token type 0 row: single sentences have no second segment.
    let tokenTypeEmbedding: [Float]
    let embeddingNorm: LayerNorm
    let layers: [BertLayer]

    /// Loads every weight from `source` by its Hugging Face name; `linear` builds each linear
    /// layer (float from safetensors, INT8 from a checkpoint).
    public init(
        configuration: BertConfiguration, source: any TensorSource,
        linear: (String) throws -> any LinearLayer
    ) throws {
        let c = configuration
        self.configuration = c
        let loader = WeightLoader(source: source)
        wordEmbeddings = try loader.floats("embeddings.word_embeddings.weight", shape: [c.vocabularySize, c.hiddenSize])
        positionEmbeddings = try loader.floats("embeddings.position_embeddings.weight", shape: [c.maximumPositions, c.hiddenSize])
        let tokenTypes = try loader.floats("embeddings.token_type_embeddings.weight", shape: [c.tokenTypeCount, c.hiddenSize])
        tokenTypeEmbedding = Array(tokenTypes[0..<c.hiddenSize])
        embeddingNorm = try loader.layerNorm("embeddings.LayerNorm", size: c.hiddenSize, epsilon: c.layerNormEpsilon)
        func dense(_ name: String, _ inFeatures: Int, _ outFeatures: Int) throws -> any LinearLayer {
            let layer = try linear(name)
            guard layer.inFeatures == inFeatures, layer.outFeatures == outFeatures else {
                throw MiniLMError.invalidWeight(
                    path: source.path, tensor: name + ".weight",
                    reason: "has shape [\(layer.outFeatures), \(layer.inFeatures)] but the config needs [\(outFeatures), \(inFeatures)]")
            }
            return layer
        }
        var layers: [BertLayer] = []
        for index in 0..<c.layerCount {
            let p = "encoder.layer.\(index)."
            let h = c.hiddenSize
            layers.append(BertLayer(
                query: try dense(p + "attention.self.query", h, h),
                key: try dense(p + "attention.self.key", h, h),
                value: try dense(p + "attention.self.value", h, h),
                attentionOutput: try dense(p + "attention.output.dense", h, h),
                attentionNorm: try loader.layerNorm(p + "attention.output.LayerNorm", size: h, epsilon: c.layerNormEpsilon),
                intermediate: try dense(p + "intermediate.dense", h, c.intermediateSize),
                output: try dense(p + "output.dense", c.intermediateSize, h),
                outputNorm: try loader.layerNorm(p + "output.LayerNorm", size: h, epsilon: c.layerNormEpsilon)))
        }
        self.layers = layers
    }

    /// The same encoder with every linear layer quantized in memory, for comparisons
    /// without a converted checkpoint.
    public func quantized(granularity: Granularity = .perChannel) throws -> BertEncoder {
        func convert(_ layer: any LinearLayer) throws -> any LinearLayer {
            guard let float = layer as? Linear else { return layer }
            return try QuantizedLinear.fromLinear(float, granularity: granularity)
        }
        let quantizedLayers = try layers.map { layer in
            BertLayer(
                query: try convert(layer.query), key: try convert(layer.key), value: try convert(layer.value),
                attentionOutput: try convert(layer.attentionOutput), attentionNorm: layer.attentionNorm,
                intermediate: try convert(layer.intermediate), output: try convert(layer.output),
                outputNorm: layer.outputNorm)
        }
        return BertEncoder(copying: self, layers: quantizedLayers)
    }

    private init(copying other: BertEncoder, layers: [BertLayer]) {
        configuration = other.configuration
        wordEmbeddings = other.wordEmbeddings
        positionEmbeddings = other.positionEmbeddings
        tokenTypeEmbedding = other.tokenTypeEmbedding
        embeddingNorm = other.embeddingNorm
        self.layers = layers
    }

    /// The linear layers, in order, for inspection (`[query, key, value, attention output,
    /// intermediate, output]` per encoder layer).
    public var linearLayers: [any LinearLayer] {
        layers.flatMap { [$0.query, $0.key, $0.value, $0.attentionOutput, $0.intermediate, $0.output] }
    }

    /// The last hidden state, `[ids.count, hiddenSize]`.
    ///
    /// - Precondition: `ids` is not empty, no longer than `maximumPositions`, and every id is
    ///   below `vocabularySize` (the tokenizer guarantees all three).
    public func hiddenStates(ids: [Int32]) throws -> FloatTensor {
        let c = configuration
        let n = ids.count, h = c.hiddenSize
        precondition(n > 0 && n <= c.maximumPositions)
        var x = [Float](repeating: 0, count: n * h)
        for (t, id) in ids.enumerated() {
            let token = Int(id)
            precondition(token >= 0 && token < c.vocabularySize)
            for j in 0..<h {
                x[t * h + j] = wordEmbeddings[token * h + j] + positionEmbeddings[t * h + j] + tokenTypeEmbedding[j]
            }
        }
        embeddingNorm.apply(&x, rows: n)
        var hidden = FloatTensor(uncheckedShape: [n, h], storage: x)
        for layer in layers {
            hidden = try layer.forward(hidden, headCount: c.headCount)
        }
        return hidden
    }
}

/// One encoder layer: self-attention and the MLP, each followed by residual + LayerNorm.
struct BertLayer: Sendable {
    let query: any LinearLayer
    let key: any LinearLayer
    package let value: any LinearLayer
    let attentionOutput: any LinearLayer
    let attentionNorm: LayerNorm
    let intermediate: any LinearLayer
    let output: any LinearLayer
    let outputNorm: LayerNorm

    func forward(_ x: FloatTensor, headCount: Int) throws -> FloatTensor {
        let n = x.shape[0], h = x.shape[1]
        let d = h / headCount
        let q = try query.forward(x), k = try key.forward(x), v = try value.forward(x)
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
        var attended = try attentionOutput.forward(FloatTensor(uncheckedShape: [n, h], storage: context)).storage
        for i in 0..<attended.count { attended[i] += x.storage[i] }
        attentionNorm.apply(&attended, rows: n)
        let normed = FloatTensor(uncheckedShape: [n, h], storage: attended)
        var inner = try intermediate.forward(normed)
        for i in 0..<inner.storage.count { inner.storage[i] = gelu(inner.storage[i]) }
        var out = try output.forward(inner).storage
        for i in 0..<out.count { out[i] += attended[i] }
        outputNorm.apply(&out, rows: n)
        return FloatTensor(uncheckedShape: [n, h], storage: out)
    }
}

/// BERT's GELU: `x · Φ(x)` with the exact normal CDF (erf), not the tanh approximation.
@inline(__always)
func gelu(_ x: Float) -> Float {
    0.5 * x * (1 + erf(x * 0.70710678118654752))
}

/// Numerically stable softmax of each row, in place.
func softmaxRows(_ values: inout [Float], rows: Int, columns: Int) {
    for r in 0..<rows {
        let base = r * columns
        var maximum = -Float.infinity
        for j in 0..<columns { maximum = max(maximum, values[base + j]) }
        var sum: Float = 0
        for j in 0..<columns {
            let e = exp(values[base + j] - maximum)
            values[base + j] = e
            sum += e
        }
        let inverse = 1 / sum
        for j in 0..<columns { values[base + j] *= inverse }
    }
}

/// LayerNorm over the last dimension: `(x − mean) / sqrt(var + ε) · γ + β`.
struct LayerNorm: Sendable {
    let gamma: [Float]
    let beta: [Float]
    let epsilon: Float

    func apply(_ x: inout [Float], rows: Int) {
        let size = gamma.count
        for r in 0..<rows {
            let base = r * size
            // Double sums: 384 Float32 additions would cost more accuracy than the 1e-4 budget allows for.
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
}

/// Reads float tensors by name with shape checks.
struct WeightLoader {
    let source: any TensorSource

    func floats(_ name: String, shape: [Int]) throws -> [Float] {
        guard let info = source.info(for: name) else {
            throw TensorSourceError.noSuchTensor(path: source.path, name: name)
        }
        guard info.shape == shape else {
            throw MiniLMError.invalidWeight(path: source.path, tensor: name, reason: "has shape \(info.shape) but the config needs \(shape)")
        }
        return try source.floats(for: name)
    }

    func layerNorm(_ name: String, size: Int, epsilon: Float) throws -> LayerNorm {
        LayerNorm(
            gamma: try floats(name + ".weight", shape: [size]), beta: try floats(name + ".bias", shape: [size]),
            epsilon: epsilon)
    }
}
