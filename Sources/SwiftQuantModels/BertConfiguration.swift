import Foundation
import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantNN

/// The fields of a BERT `config.json` the encoder uses, with the sentence-transformers
/// sequence limit from `sentence_bert_config.json`.
public struct BertConfiguration: Sendable, Equatable {
    /// Rows of the word embedding (`vocab_size`).
    public var vocabularySize: Int
    /// Width of every hidden state (`hidden_size`, 384 for MiniLM-L6).
    public var hiddenSize: Int
    /// Encoder layers (`num_hidden_layers`).
    public var layerCount: Int
    /// Attention heads per layer (`num_attention_heads`); each has `hiddenSize / headCount` dimensions.
    public var headCount: Int
    /// Width of the MLP between the two dense layers (`intermediate_size`).
    public var intermediateSize: Int
    /// Rows of the position embedding (`max_position_embeddings`).
    public var maximumPositions: Int
    /// Rows of the token type embedding (`type_vocab_size`).
    public var tokenTypeCount: Int
    /// The ε every LayerNorm adds to the variance (`layer_norm_eps`, 1e-12).
    public var layerNormEpsilon: Float
    /// Inputs are truncated to this many tokens, `[CLS]` and `[SEP]` included.
    public var maximumSequenceLength: Int

    /// Reads `config.json` and, when present, `sentence_bert_config.json` from a model folder.
    public init(modelDirectory: String) throws(MiniLMError) {
        let path = (modelDirectory as NSString).appendingPathComponent("config.json")
        let object = try readJSONObject(path, what: "the BERT config.json")
        func integer(_ key: String) throws(MiniLMError) -> Int {
            guard let value = object[key] as? Int, value > 0 else {
                throw .invalidConfiguration(path: path, reason: "'\(key)' must be a positive integer")
            }
            return value
        }
        vocabularySize = try integer("vocab_size")
        hiddenSize = try integer("hidden_size")
        layerCount = try integer("num_hidden_layers")
        headCount = try integer("num_attention_heads")
        intermediateSize = try integer("intermediate_size")
        maximumPositions = try integer("max_position_embeddings")
        tokenTypeCount = try integer("type_vocab_size")
        layerNormEpsilon = Float((object["layer_norm_eps"] as? Double) ?? 1e-12)
        guard hiddenSize % headCount == 0 else {
            throw .invalidConfiguration(path: path, reason: "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(headCount)")
        }
        let activation = object["hidden_act"] as? String ?? "gelu"
        guard activation == "gelu" else {
            throw .invalidConfiguration(path: path, reason: "hidden_act '\(activation)' is not supported; the encoder implements BERT's erf GELU ('gelu')")
        }
        let positions = object["position_embedding_type"] as? String ?? "absolute"
        guard positions == "absolute" else {
            throw .invalidConfiguration(path: path, reason: "position_embedding_type '\(positions)' is not supported; only 'absolute' is")
        }
        let sentencePath = (modelDirectory as NSString).appendingPathComponent("sentence_bert_config.json")
        if FileManager.default.fileExists(atPath: sentencePath) {
            let sentence = try readJSONObject(sentencePath, what: "sentence_bert_config.json")
            guard let length = sentence["max_seq_length"] as? Int, length >= 2 else {
                throw .invalidConfiguration(path: sentencePath, reason: "'max_seq_length' must be an integer of at least 2")
            }
            maximumSequenceLength = min(length, maximumPositions)
        } else {
            maximumSequenceLength = maximumPositions
        }
    }
}

func readJSONObject(_ path: String, what: String) throws(MiniLMError) -> [String: Any] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw .cannotRead(path: path, what: what)
    }
    guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
        throw .invalidConfiguration(path: path, reason: "not a JSON object")
    }
    return object
}
