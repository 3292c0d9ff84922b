import Foundation
import SwiftQuantCore
import SwiftQuantNN

/// The shape of a llama-family decoder: Llama, Mistral and Qwen2, read from a Hugging Face
/// `config.json` or from a GGUF file's `<arch>.*` keys.
///
/// Supported `rope_scaling` (or `rope_parameters`' `rope_type`): none (`null` or `"default"`), `"linear"` and `"llama3"`; other
/// types (`"dynamic"`, `"yarn"`, `"longrope"`, …) are refused. Mistral's sliding window is
/// kept in ``slidingWindow``: the decoder attends to the whole sequence and refuses to run
/// past the window rather than answer differently from the reference.
public struct LlamaConfiguration: Sendable, Equatable {
    /// `llama`, `mistral` or `qwen2`.
    public var modelType: String
    /// Rows of the token embedding (`vocab_size`).
    public var vocabularySize: Int
    /// Width of the residual stream (`hidden_size`).
    public var hiddenSize: Int
    /// Width of the MLP (`intermediate_size`).
    public var intermediateSize: Int
    /// Decoder layers (`num_hidden_layers`).
    public var layerCount: Int
    /// Query heads (`num_attention_heads`).
    public var headCount: Int
    /// Key/value heads (`num_key_value_heads`, defaults to ``headCount``).
    public var kvHeadCount: Int
    /// Features per head (`head_dim`, defaults to `hiddenSize / headCount`).
    public var headDimension: Int
    /// The RMSNorm ε (`rms_norm_eps`).
    public var rmsNormEpsilon: Float
    /// The RoPE base (`rope_theta`).
    public var ropeTheta: Double
    /// The RoPE frequency rescaling.
    public var ropeScaling: RotaryEmbedding.Scaling
    /// `max_position_embeddings` (informational: longer sequences are not refused).
    public var maximumPositions: Int
    /// Whether the output head reuses the token embedding (`tie_word_embeddings`).
    public var tieWordEmbeddings: Bool
    /// Whether q/k/v projections have biases (Qwen2, or `attention_bias`).
    public var attentionBias: Bool
    /// Mistral's attention window, when the model uses one.
    public var slidingWindow: Int?

    /// The model types this decoder runs.
    public static let supportedModelTypes = ["llama", "mistral", "qwen2"]

    /// A configuration from explicit values (tests and benchmarks build models in code).
    public init(
        modelType: String = "llama", vocabularySize: Int, hiddenSize: Int, intermediateSize: Int, layerCount: Int,
        headCount: Int, kvHeadCount: Int, headDimension: Int? = nil, rmsNormEpsilon: Float = 1e-6,
        ropeTheta: Double = 10000, ropeScaling: RotaryEmbedding.Scaling = .none, maximumPositions: Int = 2048,
        tieWordEmbeddings: Bool = false, attentionBias: Bool = false, slidingWindow: Int? = nil
    ) {
        self.modelType = modelType
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDimension = headDimension ?? hiddenSize / max(1, headCount)
        self.rmsNormEpsilon = rmsNormEpsilon
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.maximumPositions = maximumPositions
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.slidingWindow = slidingWindow
    }

    /// Reads a Hugging Face `config.json` (its bytes); `source` names it in errors.
    public init(configJSON data: Data, source: String) throws(LlamaError) {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .invalidConfiguration(source: source, reason: "config.json is not a JSON object")
        }
        func integer(_ key: String) throws(LlamaError) -> Int {
            guard let value = object[key] as? Int, value > 0 else {
                throw .invalidConfiguration(source: source, reason: "'\(key)' must be a positive integer")
            }
            return value
        }
        func optionalInteger(_ key: String) -> Int? {
            (object[key] as? Int).flatMap { $0 > 0 ? $0 : nil }
        }
        let type = object["model_type"] as? String ?? ""
        guard Self.supportedModelTypes.contains(type) else {
            throw .invalidConfiguration(source: source, reason: "model_type '\(printableInMessage(type))' is not supported; the decoder runs \(Self.supportedModelTypes.joined(separator: ", "))")
        }
        let activation = object["hidden_act"] as? String ?? "silu"
        guard activation == "silu" else {
            throw .invalidConfiguration(source: source, reason: "hidden_act '\(printableInMessage(activation))' is not supported; llama-family MLPs use 'silu'")
        }
        let hidden = try integer("hidden_size")
        let heads = try integer("num_attention_heads")
        // transformers ≥ 5 writes `rope_parameters` ({rope_theta, rope_type, factor, …});
        // earlier versions a top-level `rope_theta` and a `rope_scaling` object.
        let parameters = object["rope_parameters"] as? [String: Any]
        let scaling = try Self.ropeScaling(parameters ?? object["rope_scaling"], source: source)
        let theta = (parameters?["rope_theta"] as? Double) ?? (object["rope_theta"] as? Double) ?? 10000
        var window: Int?
        if type == "mistral" { window = optionalInteger("sliding_window") }
        if type == "qwen2", object["use_sliding_window"] as? Bool == true { window = optionalInteger("sliding_window") }
        if let layerTypes = object["layer_types"] as? [String] {
            // transformers ≥ 5 names each layer's attention; only full attention is implemented.
            window = layerTypes.contains("sliding_attention") ? optionalInteger("sliding_window") : nil
        }
        self.init(
            modelType: type, vocabularySize: try integer("vocab_size"), hiddenSize: hidden,
            intermediateSize: try integer("intermediate_size"), layerCount: try integer("num_hidden_layers"),
            headCount: heads, kvHeadCount: optionalInteger("num_key_value_heads") ?? heads,
            headDimension: optionalInteger("head_dim"),
            rmsNormEpsilon: Float((object["rms_norm_eps"] as? Double) ?? 1e-6),
            ropeTheta: theta, ropeScaling: scaling,
            maximumPositions: optionalInteger("max_position_embeddings") ?? 2048,
            tieWordEmbeddings: object["tie_word_embeddings"] as? Bool ?? false,
            attentionBias: type == "qwen2" || (object["attention_bias"] as? Bool ?? false),
            slidingWindow: window)
        try validate(source: source)
    }

    static func ropeScaling(_ value: Any?, source: String) throws(LlamaError) -> RotaryEmbedding.Scaling {
        guard let value, !(value is NSNull) else { return .none }
        guard let object = value as? [String: Any] else {
            throw .invalidConfiguration(source: source, reason: "'rope_scaling' must be null or an object")
        }
        let type = (object["rope_type"] ?? object["type"]) as? String ?? ""
        let factor = object["factor"] as? Double
        switch type {
        case "default", "":
            return .none
        case "linear":
            guard let factor, factor > 0 else {
                throw .invalidConfiguration(source: source, reason: "rope_scaling 'linear' needs a positive 'factor'")
            }
            return .linear(factor: factor)
        case "llama3":
            guard let factor, factor > 0, let low = object["low_freq_factor"] as? Double,
                  let high = object["high_freq_factor"] as? Double, high > low,
                  let original = object["original_max_position_embeddings"] as? Int, original > 0 else {
                throw .invalidConfiguration(source: source, reason: "rope_scaling 'llama3' needs factor, low_freq_factor < high_freq_factor and original_max_position_embeddings")
            }
            return .llama3(factor: factor, lowFrequencyFactor: low, highFrequencyFactor: high, originalContext: original)
        default:
            throw .invalidConfiguration(source: source, reason: "rope_scaling type '\(printableInMessage(type))' is not supported; supported: null, 'default', 'linear', 'llama3'")
        }
    }

    /// Reads GGUF metadata (`general.architecture` and the `<arch>.*` keys); `vocabularySize`
    /// comes from the token embedding when the file has no `<arch>.vocab_size`.
    public init(ggufMetadata metadata: [String: MetadataValue], vocabularySize: Int?, source: String) throws(LlamaError) {
        guard case .string(let arch)? = metadata["general.architecture"] else {
            throw .invalidConfiguration(source: source, reason: "the GGUF file has no 'general.architecture'")
        }
        guard arch == "llama" || arch == "qwen2" else {
            throw .invalidConfiguration(source: source, reason: "GGUF architecture '\(printableInMessage(arch))' is not supported; the decoder runs llama and qwen2")
        }
        func number(_ key: String) -> Double? {
            switch metadata[arch + "." + key] {
            case .int(let v)?: Double(v)
            case .uint(let v)?: Double(v)
            case .float(let v)?: v
            default: nil
            }
        }
        func integer(_ key: String) throws(LlamaError) -> Int {
            guard let value = number(key), value >= 1, value == value.rounded(), value < 1e12 else {
                throw .invalidConfiguration(source: source, reason: "GGUF key '\(arch).\(key)' is missing or not a positive integer")
            }
            return Int(value)
        }
        let hidden = try integer("embedding_length")
        let heads = try integer("attention.head_count")
        let vocabulary = number("vocab_size").map { Int($0) } ?? vocabularySize
        guard let vocabulary, vocabulary > 0 else {
            throw .invalidConfiguration(source: source, reason: "cannot tell the vocabulary size: no '\(arch).vocab_size' and no token_embd.weight")
        }
        var scaling = RotaryEmbedding.Scaling.none
        if case .string(let type)? = metadata[arch + ".rope.scaling.type"], type != "none" {
            guard type == "linear", let factor = number("rope.scaling.factor"), factor > 0 else {
                throw .invalidConfiguration(source: source, reason: "GGUF rope scaling '\(printableInMessage(type))' is not supported; supported: none, linear")
            }
            scaling = .linear(factor: factor)
        }
        let keyLength = number("attention.key_length").map { Int($0) }
        self.init(
            modelType: arch == "llama" ? "llama" : "qwen2", vocabularySize: vocabulary, hiddenSize: hidden,
            intermediateSize: try integer("feed_forward_length"), layerCount: try integer("block_count"),
            headCount: heads, kvHeadCount: number("attention.head_count_kv").map { Int($0) } ?? heads,
            headDimension: keyLength ?? number("rope.dimension_count").map { Int($0) },
            rmsNormEpsilon: Float(number("attention.layer_norm_rms_epsilon") ?? 1e-5),
            ropeTheta: number("rope.freq_base") ?? 10000, ropeScaling: scaling,
            maximumPositions: number("context_length").map { Int($0) } ?? 2048,
            tieWordEmbeddings: false, attentionBias: arch == "qwen2", slidingWindow: nil)
        try validate(source: source)
    }

    /// The RoPE scaling to run a GGUF model with: ``ropeScaling`` combined with the file's
    /// `rope_freqs.weight` when it has one (llama.cpp divides frequency `i` by factor `i`, on top
    /// of a linear `rope.scaling.factor`). convert_hf_to_gguf.py writes Llama 3's scaling this way.
    ///
    /// - Throws: ``LlamaError/invalidWeight(path:tensor:reason:)`` when the tensor does not hold
    ///   one finite positive factor per rotated pair, or the configuration already uses another
    ///   scaling the factors cannot combine with.
    public func ropeScaling(withFrequencyFactorsOf source: any TensorSource) throws -> RotaryEmbedding.Scaling {
        let name = "rope_freqs.weight"
        guard let info = source.info(for: name) else { return ropeScaling }
        let pairs = headDimension / 2
        guard info.shape.count == 1, info.shape[0] == pairs else {
            throw LlamaError.invalidWeight(path: source.path, tensor: name, reason: "has shape \(info.shape) but the head dimension \(headDimension) needs [\(pairs)] (one factor per rotated pair)")
        }
        let factors = try source.floats(for: name).map(Double.init)
        guard factors.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw LlamaError.invalidWeight(path: source.path, tensor: name, reason: "holds a factor that is not finite and positive")
        }
        switch ropeScaling {
        case .none: return .frequencyFactors(factors)
        case .linear(let factor): return .frequencyFactors(factors.map { $0 * factor })
        default:
            throw LlamaError.invalidWeight(path: source.path, tensor: name, reason: "cannot be combined with the configuration's rope scaling \(ropeScaling)")
        }
    }

    func validate(source: String) throws(LlamaError) {
        guard headCount > 0, kvHeadCount > 0, headCount % kvHeadCount == 0 else {
            throw .invalidConfiguration(source: source, reason: "num_attention_heads \(headCount) is not a multiple of num_key_value_heads \(kvHeadCount)")
        }
        guard headDimension > 0, headDimension % 2 == 0 else {
            throw .invalidConfiguration(source: source, reason: "head dimension \(headDimension) must be positive and even for rotary embeddings")
        }
    }
}
