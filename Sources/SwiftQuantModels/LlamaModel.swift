import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantNN

/// How a checkpoint names a llama model's tensors.
public enum LlamaTensorNaming: Sendable, Equatable {
    /// Hugging Face: `model.embed_tokens`, `model.layers.N.self_attn.q_proj`, `lm_head`, …
    case huggingFace
    /// llama.cpp's GGUF names (gguf-py's `TensorNameMap`): `token_embd`, `blk.N.attn_q`, `output`, …
    /// llama's q/k rows are permuted by llama.cpp's converter, so their rotary pairs interleave.
    case gguf

    /// The dotted name of a block-level parameter (without `.weight`).
    public func name(_ part: LlamaParameter, layer: Int = 0) -> String {
        switch self {
        case .huggingFace:
            switch part {
            case .embedding: "model.embed_tokens"
            case .finalNorm: "model.norm"
            case .head: "lm_head"
            case .attentionNorm: "model.layers.\(layer).input_layernorm"
            case .mlpNorm: "model.layers.\(layer).post_attention_layernorm"
            case .query: "model.layers.\(layer).self_attn.q_proj"
            case .key: "model.layers.\(layer).self_attn.k_proj"
            case .value: "model.layers.\(layer).self_attn.v_proj"
            case .attentionOutput: "model.layers.\(layer).self_attn.o_proj"
            case .gate: "model.layers.\(layer).mlp.gate_proj"
            case .up: "model.layers.\(layer).mlp.up_proj"
            case .down: "model.layers.\(layer).mlp.down_proj"
            }
        case .gguf:
            switch part {
            case .embedding: "token_embd"
            case .finalNorm: "output_norm"
            case .head: "output"
            case .attentionNorm: "blk.\(layer).attn_norm"
            case .mlpNorm: "blk.\(layer).ffn_norm"
            case .query: "blk.\(layer).attn_q"
            case .key: "blk.\(layer).attn_k"
            case .value: "blk.\(layer).attn_v"
            case .attentionOutput: "blk.\(layer).attn_output"
            case .gate: "blk.\(layer).ffn_gate"
            case .up: "blk.\(layer).ffn_up"
            case .down: "blk.\(layer).ffn_down"
            }
        }
    }
}

/// The parameters of a llama model, for ``LlamaTensorNaming/name(_:layer:)``.
public enum LlamaParameter: Sendable, CaseIterable {
    case embedding, finalNorm, head, attentionNorm, mlpNorm, query, key, value, attentionOutput, gate, up, down
}

/// The key/value caches of every layer of a ``LlamaModel``: one sequence's state.
public struct LlamaCache: Sendable {
    /// One cache per decoder layer.
    public var layers: [LayerKeyValueCache]
    /// Positions processed so far.
    public var count: Int { layers.first?.count ?? 0 }

    /// Forgets the sequence.
    public mutating func removeAll() {
        for index in layers.indices { layers[index].removeAll() }
    }
}

/// One decoder block: pre-norm attention and pre-norm SwiGLU MLP, each with a residual.
public struct LlamaDecoderLayer: Sendable {
    public var attentionNorm: RMSNorm
    public var attention: GroupedQueryAttention
    public var mlpNorm: RMSNorm
    public var mlp: SwiGLU
}

/// A llama-family decoder (Llama, Mistral, Qwen2): token embedding, pre-norm blocks of
/// grouped-query attention with rotary positions and a SwiGLU MLP, a final RMSNorm and an
/// output head (tied to the embedding or separate).
///
/// Linear layers are any `LinearLayer`: `Linear` for float weights, `QuantizedLinear` for
/// INT8 ones, mixed freely. Embedding and norms are Float32.
///
/// ```swift
/// let source = try openTensorSource(at: "model.safetensors")
/// let model = try LlamaModel(configuration: config, source: source) { try source.linear($0) }
/// var cache = model.makeCache()
/// let logits = try model.forward([1, 15043, 29892], cache: &cache)   // [1, vocabularySize]: the last token's
/// ```
public struct LlamaModel: Sendable {
    /// The sizes the weights were checked against.
    public let configuration: LlamaConfiguration
    /// The tensor names the weights were loaded by (also the dotted paths ``quantize(model:granularity:filter:)`` sees).
    public let naming: LlamaTensorNaming
    /// `[vocabularySize, hiddenSize]`, row-major.
    let embedding: [Float]
    /// The decoder blocks.
    public private(set) var layers: [LlamaDecoderLayer]
    /// The norm before the head.
    public let finalNorm: RMSNorm
    /// `hiddenSize → vocabularySize`.
    public private(set) var head: any LinearLayer

    /// Loads every weight from `source` by name and checks its shape; `linear` builds each
    /// linear layer from its dotted name (without `.weight`), float or INT8.
    ///
    /// When the source has no output head (`lm_head` / `output`) and the configuration ties
    /// the embeddings (GGUF files always may), the head reuses the token embedding.
    ///
    /// - Throws: ``LlamaError/invalidWeight(path:tensor:reason:)`` naming the first missing or
    ///   mis-shaped tensor, and whatever `linear` throws.
    public init(
        configuration: LlamaConfiguration, source: any TensorSource, naming: LlamaTensorNaming = .huggingFace,
        linear: (String) throws -> any LinearLayer
    ) throws {
        let c = configuration
        self.configuration = c
        self.naming = naming
        func floats(_ name: String, shape: [Int]) throws -> [Float] {
            guard let info = source.info(for: name) else {
                throw LlamaError.invalidWeight(path: source.path, tensor: name, reason: "is missing")
            }
            guard info.shape == shape else {
                throw LlamaError.invalidWeight(path: source.path, tensor: name, reason: "has shape \(info.shape) but the config needs \(shape)")
            }
            return try source.floats(for: name)
        }
        func dense(_ part: LlamaParameter, _ layer: Int, in inFeatures: Int, out outFeatures: Int) throws -> any LinearLayer {
            let name = naming.name(part, layer: layer)
            guard source.info(for: name + ".weight") != nil else {
                throw LlamaError.invalidWeight(path: source.path, tensor: name + ".weight", reason: "is missing")
            }
            let built = try linear(name)
            guard built.inFeatures == inFeatures, built.outFeatures == outFeatures else {
                throw LlamaError.invalidWeight(
                    path: source.path, tensor: name + ".weight",
                    reason: "has shape [\(built.outFeatures), \(built.inFeatures)] but the config needs [\(outFeatures), \(inFeatures)]")
            }
            return built
        }
        let h = c.hiddenSize
        let embeddingName = naming.name(.embedding) + ".weight"
        embedding = try floats(embeddingName, shape: [c.vocabularySize, h])
        let layout: RotaryEmbedding.Layout = naming == .gguf && c.modelType != "qwen2" ? .interleaved : .halves
        let scaling = naming == .gguf ? try c.ropeScaling(withFrequencyFactorsOf: source) : c.ropeScaling
        let rotary = RotaryEmbedding(dimension: c.headDimension, base: c.ropeTheta, scaling: scaling, layout: layout)
        let attentionWidth = c.headCount * c.headDimension
        let kvWidth = c.kvHeadCount * c.headDimension
        var layers: [LlamaDecoderLayer] = []
        for index in 0..<c.layerCount {
            let attention = try GroupedQueryAttention(
                query: try dense(.query, index, in: h, out: attentionWidth),
                key: try dense(.key, index, in: h, out: kvWidth),
                value: try dense(.value, index, in: h, out: kvWidth),
                output: try dense(.attentionOutput, index, in: attentionWidth, out: h),
                heads: c.headCount, kvHeads: c.kvHeadCount, headDimension: c.headDimension, rotary: rotary)
            let mlp = try SwiGLU(
                gate: try dense(.gate, index, in: h, out: c.intermediateSize),
                up: try dense(.up, index, in: h, out: c.intermediateSize),
                down: try dense(.down, index, in: c.intermediateSize, out: h))
            layers.append(LlamaDecoderLayer(
                attentionNorm: RMSNorm(weight: try floats(naming.name(.attentionNorm, layer: index) + ".weight", shape: [h]), epsilon: c.rmsNormEpsilon),
                attention: attention,
                mlpNorm: RMSNorm(weight: try floats(naming.name(.mlpNorm, layer: index) + ".weight", shape: [h]), epsilon: c.rmsNormEpsilon),
                mlp: mlp))
        }
        self.layers = layers
        finalNorm = RMSNorm(weight: try floats(naming.name(.finalNorm) + ".weight", shape: [h]), epsilon: c.rmsNormEpsilon)
        let headName = naming.name(.head)
        if source.info(for: headName + ".weight") != nil {
            head = try dense(.head, 0, in: h, out: c.vocabularySize)
        } else if c.tieWordEmbeddings || naming == .gguf {
            head = try Linear(weight: FloatTensor(uncheckedShape: [c.vocabularySize, h], storage: embedding))
        } else {
            throw LlamaError.invalidWeight(
                path: source.path, tensor: headName + ".weight",
                reason: "is missing and tie_word_embeddings is false")
        }
    }

    /// A model from parts already built (random models for tests and benchmarks).
    package init(
        configuration: LlamaConfiguration, naming: LlamaTensorNaming, embedding: [Float],
        layers: [LlamaDecoderLayer], finalNorm: RMSNorm, head: any LinearLayer
    ) {
        self.configuration = configuration
        self.naming = naming
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.head = head
    }

    /// An empty cache for one sequence.
    public func makeCache(capacity: Int = 256) -> LlamaCache {
        LlamaCache(layers: layers.map { _ in
            LayerKeyValueCache(kvHeads: configuration.kvHeadCount, headDimension: configuration.headDimension, capacity: capacity)
        })
    }

    /// Runs `tokens` (the positions right after those already in `cache`) through the
    /// decoder in one batched pass, appends them to `cache`, and returns the logits: of the
    /// last token only (`[1, vocabularySize]`) or, with `allLogits`, of every token
    /// (`[tokens.count, vocabularySize]`).
    ///
    /// - Throws: ``LlamaError/tokenOutOfRange(token:vocabularySize:)``,
    ///   ``LlamaError/beyondSlidingWindow(length:window:)``, and `LayerError` from the layers.
    public func forward(_ tokens: [Int32], cache: inout LlamaCache, allLogits: Bool = false) throws -> FloatTensor {
        let c = configuration
        let rows = tokens.count
        guard rows > 0 else { throw LlamaError.emptyPrompt }
        if let window = c.slidingWindow, cache.count + rows > window {
            throw LlamaError.beyondSlidingWindow(length: cache.count + rows, window: window)
        }
        let h = c.hiddenSize
        var hidden = [Float](repeating: 0, count: rows * h)
        for (row, token) in tokens.enumerated() {
            guard token >= 0, Int(token) < c.vocabularySize else {
                throw LlamaError.tokenOutOfRange(token: token, vocabularySize: c.vocabularySize)
            }
            let start = Int(token) * h
            hidden.withUnsafeMutableBufferPointer { out in
                for i in 0..<h { out[row * h + i] = embedding[start + i] }
            }
        }
        var x = FloatTensor(uncheckedShape: [rows, h], storage: hidden)
        for index in layers.indices {
            let layer = layers[index]
            let attended = try layer.attention(try layer.attentionNorm(x), cache: &cache.layers[index])
            add(&x.storage, attended.storage)
            let mlpOut = try layer.mlp(try layer.mlpNorm(x))
            add(&x.storage, mlpOut.storage)
        }
        if !allLogits, rows > 1 {
            x = FloatTensor(uncheckedShape: [1, h], storage: Array(x.storage[((rows - 1) * h)...]))
        }
        return try head.forward(try finalNorm(x))
    }

    /// Every linear layer with its dotted path (the checkpoint's name without `.weight`).
    public var linearLayers: [(path: String, layer: any LinearLayer)] {
        var result: [(String, any LinearLayer)] = []
        for (index, layer) in layers.enumerated() {
            let a = layer.attention, m = layer.mlp
            result += [
                (naming.name(.query, layer: index), a.query), (naming.name(.key, layer: index), a.key),
                (naming.name(.value, layer: index), a.value), (naming.name(.attentionOutput, layer: index), a.output),
                (naming.name(.gate, layer: index), m.gate), (naming.name(.up, layer: index), m.up),
                (naming.name(.down, layer: index), m.down),
            ]
        }
        result.append((naming.name(.head), head))
        return result
    }

    /// Replaces the linear layers by path with `transform`'s results (same shapes).
    mutating func mapLinearLayers(_ transform: (String, any LinearLayer) throws -> any LinearLayer) throws {
        for index in layers.indices {
            let a = layers[index].attention, m = layers[index].mlp
            layers[index].attention = try GroupedQueryAttention(
                query: try transform(naming.name(.query, layer: index), a.query),
                key: try transform(naming.name(.key, layer: index), a.key),
                value: try transform(naming.name(.value, layer: index), a.value),
                output: try transform(naming.name(.attentionOutput, layer: index), a.output),
                heads: a.heads, kvHeads: a.kvHeads, headDimension: a.headDimension, rotary: a.rotary)
            layers[index].mlp = try SwiGLU(
                gate: try transform(naming.name(.gate, layer: index), m.gate),
                up: try transform(naming.name(.up, layer: index), m.up),
                down: try transform(naming.name(.down, layer: index), m.down))
        }
        head = try transform(naming.name(.head), head)
    }
}

extension LlamaModel {
    /// The same model with `QuantizedLinear.quantizesActivations` set to `enabled` on every INT8
    /// layer: each layer's input rows are quantized to int8 on the fly (one scale per row) and
    /// multiplied with integer dot products (W8A8, as llama.cpp's Q8_0 products quantize their
    /// activations). Faster, mostly for a prompt pass over many tokens, and less exact; float
    /// layers and per-group INT8 layers keep their float path. Off by default.
    public func withActivationQuantization(_ enabled: Bool = true) throws -> LlamaModel {
        var copy = self
        try copy.mapLinearLayers { _, layer in
            guard var quantized = layer as? QuantizedLinear else { return layer }
            quantized.quantizesActivations = enabled
            return quantized
        }
        return copy
    }
}

/// `x += y`, element by element.
private func add(_ x: inout [Float], _ y: [Float]) {
    x.withUnsafeMutableBufferPointer { out in
        y.withUnsafeBufferPointer { other in
            for i in 0..<out.count { out[i] += other[i] }
        }
    }
}

/// Quantizes the float linear layers of `model` whose dotted path `filter` accepts, in memory:
/// the counterpart of the converter's rules for a model built from float weights (like
/// mlx-swift's `quantize(model:filter:)`). Layers already INT8 stay as they are.
///
/// ```swift
/// let int8 = try quantize(model: model) { path, _ in !path.hasSuffix("lm_head") }
/// ```
public func quantize(
    model: LlamaModel, granularity: Granularity = .perChannel,
    filter: (String, any LinearLayer) -> Bool = { _, _ in true }
) throws -> LlamaModel {
    var copy = model
    try copy.mapLinearLayers { path, layer in
        guard let float = layer as? Linear, filter(path, layer) else { return layer }
        return try QuantizedLinear.fromLinear(float, granularity: granularity)
    }
    return copy
}
