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
        wordEmbeddings = try source.floats(for: "embeddings.word_embeddings.weight", shape: [c.vocabularySize, c.hiddenSize])
        positionEmbeddings = try source.floats(for: "embeddings.position_embeddings.weight", shape: [c.maximumPositions, c.hiddenSize])
        let tokenTypes = try source.floats(for: "embeddings.token_type_embeddings.weight", shape: [c.tokenTypeCount, c.hiddenSize])
        tokenTypeEmbedding = Array(tokenTypes[0..<c.hiddenSize])
        embeddingNorm = try source.layerNorm("embeddings.LayerNorm", size: c.hiddenSize, epsilon: c.layerNormEpsilon)
        var layers: [BertLayer] = []
        for index in 0..<c.layerCount {
            let p = "encoder.layer.\(index)."
            let h = c.hiddenSize
            func dense(_ name: String, _ inFeatures: Int, _ outFeatures: Int) throws -> any LinearLayer {
                try source.checkedLayer(p + name, inFeatures: inFeatures, outFeatures: outFeatures, make: linear)
            }
            layers.append(BertLayer(
                attention: try BidirectionalSelfAttention(
                    query: try dense("attention.self.query", h, h), key: try dense("attention.self.key", h, h),
                    value: try dense("attention.self.value", h, h), output: try dense("attention.output.dense", h, h),
                    headCount: c.headCount),
                attentionNorm: try source.layerNorm(p + "attention.output.LayerNorm", size: h, epsilon: c.layerNormEpsilon),
                intermediate: try dense("intermediate.dense", h, c.intermediateSize),
                output: try dense("output.dense", c.intermediateSize, h),
                outputNorm: try source.layerNorm(p + "output.LayerNorm", size: h, epsilon: c.layerNormEpsilon)))
        }
        self.layers = layers
    }

    /// Input columns per activation scale in this encoder's W8A8 layers unless asked otherwise.
    ///
    /// BERT's LayerNorm outputs (the inputs of Q, K, V and the intermediate layer) carry a few
    /// outlier channels, and GELU outputs a few large values: with one scale per row they
    /// coarsen every other activation. Measured on all-MiniLM-L6-v2 against weight-only INT8
    /// (cosine to fp32, worst of the 13 test sentences, the empty text): one scale per row
    /// loses 0.0108, groups of 16 lose 0.00099, of 12 0.00073, of 8 0.00041; the integer
    /// product costs about 1.6× per-row's time with groups of 12 (1.4× with 16, 2.1× with 8).
    public static let defaultActivationGroupSize = 12

    /// The same encoder with every linear layer quantized in memory, for comparisons
    /// without a converted checkpoint; with `quantizesActivations`, every layer also runs W8A8
    /// (see ``withActivationQuantization(_:groupSize:)``).
    public func quantized(
        granularity: Granularity = .perChannel, quantizesActivations: Bool = false,
        activationGroupSize: Int? = BertEncoder.defaultActivationGroupSize
    ) throws -> BertEncoder {
        func convert(_ layer: any LinearLayer) throws -> any LinearLayer {
            guard let float = layer as? Linear else { return layer }
            var quantized = try QuantizedLinear.fromLinear(float, granularity: granularity)
            quantized.activationGroupSize = activationGroupSize
            quantized.quantizesActivations = quantizesActivations
            return quantized
        }
        let quantizedLayers = try layers.map { layer in
            BertLayer(
                attention: try layer.attention.mapLayers(convert), attentionNorm: layer.attentionNorm,
                intermediate: try convert(layer.intermediate), output: try convert(layer.output),
                outputNorm: layer.outputNorm)
        }
        return BertEncoder(copying: self, layers: quantizedLayers)
    }

    /// The same encoder with `QuantizedLinear.quantizesActivations` set to `enabled` on every
    /// INT8 layer: each activation row is quantized to int8 on the fly and multiplied with
    /// integer dot products (W8A8, as ONNX Runtime's and PyTorch's dynamic quantization do).
    /// Float layers and per-group INT8 layers keep their float path. `groupSize` is the
    /// number of input columns per activation scale (`nil`: one per row; see
    /// ``defaultActivationGroupSize``).
    public func withActivationQuantization(
        _ enabled: Bool = true, groupSize: Int? = BertEncoder.defaultActivationGroupSize
    ) throws -> BertEncoder {
        func convert(_ layer: any LinearLayer) -> any LinearLayer {
            guard var quantized = layer as? QuantizedLinear else { return layer }
            quantized.activationGroupSize = groupSize
            quantized.quantizesActivations = enabled
            return quantized
        }
        let changed = try layers.map { layer in
            BertLayer(
                attention: try layer.attention.mapLayers(convert), attentionNorm: layer.attentionNorm,
                intermediate: convert(layer.intermediate), output: convert(layer.output), outputNorm: layer.outputNorm)
        }
        return BertEncoder(copying: self, layers: changed)
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
        layers.flatMap {
            [$0.attention.query, $0.attention.key, $0.attention.value, $0.attention.output, $0.intermediate, $0.output]
        }
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
            hidden = try layer.forward(hidden)
        }
        return hidden
    }
}

/// One encoder layer: self-attention and the MLP, each followed by residual + LayerNorm.
struct BertLayer: Sendable {
    let attention: BidirectionalSelfAttention
    let attentionNorm: LayerNorm
    let intermediate: any LinearLayer
    let output: any LinearLayer
    let outputNorm: LayerNorm

    func forward(_ x: FloatTensor) throws -> FloatTensor {
        let n = x.shape[0], h = x.shape[1]
        var attended = try attention.forward(x).storage
        attentionNorm.apply(&attended, rows: n, adding: x.storage)
        let normed = FloatTensor(uncheckedShape: [n, h], storage: attended)
        let inner: FloatTensor
        if let fused = try QuantizedLinear.forwardApplyingGELU(normed, layer: intermediate) {
            inner = fused
        } else {
            var product = try intermediate.forward(normed)
            applyGELU(&product.storage)
            inner = product
        }
        var out = try output.forward(inner).storage
        outputNorm.apply(&out, rows: n, adding: attended)
        return FloatTensor(uncheckedShape: [n, h], storage: out)
    }
}
