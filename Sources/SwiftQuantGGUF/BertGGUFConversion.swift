import Foundation
import SwiftQuantCore

/// A Hugging Face BERT folder (`BertModel`, sentence-transformers models such as
/// all-MiniLM-L6-v2) as llama.cpp's `convert_hf_to_gguf.py` writes it: the `bert.*`
/// hyperparameters, the WordPiece vocabulary in llama.cpp's form, the special tokens, the
/// sentence-transformers pooling type, and gguf-py's tensor names.
///
/// Source: `conversion/bert.py` (class `BertModel`), `conversion/base.py` (`TextModel`:
/// `set_gguf_parameters`, `get_vocab_base`, `_try_set_pooling_type`), gguf-py's
/// `tensor_mapping.py` and `vocab.py`, in the llama.cpp vendored by llama-cpp-python 0.3.36.
public struct BertGGUFConversion: Sendable {
    /// `general.architecture`.
    public static let ggufArchitecture = "bert"
    /// The `config.json` `architectures` converted this way (those of `BertModel`'s
    /// registration without a classification head, which would need its own tensors).
    public static let huggingFaceArchitectures: Set<String> = ["BertModel", "BertForMaskedLM"]

    /// `num_hidden_layers` (or its aliases): blocks numbered past it have no GGUF name.
    public let blockCount: Int
    /// The entries `convert_hf_to_gguf.py` writes, in its order, without the ones the GGUF
    /// writer owns (`general.architecture`, `general.name`, `general.file_type`,
    /// `general.quantization_version`, `general.alignment`).
    public let entries: [GGUFMetadataEntry]

    /// Reads `config.json`, the tokenizer (`tokenizer.json`, else `vocab.txt`),
    /// `tokenizer_config.json`, and sentence-transformers' `modules.json` with its pooling
    /// config, from `folder`.
    public init(folder: String) throws(HuggingFaceFolderError) {
        guard let config = try HuggingFaceJSONFile.load("config.json", in: folder) else {
            throw .missingFile(path: URL(fileURLWithPath: folder).appendingPathComponent("config.json").path,
                               needed: "a Hugging Face model folder has config.json")
        }
        let hyperparameters = try Self.hyperparameterEntries(config)
        blockCount = hyperparameters.blockCount
        let vocabulary = try BertVocabulary(folder: folder, config: config)
        let specialTokens = try HuggingFaceSpecialTokens(folder: folder, vocabularySize: vocabulary.tokens.count)

        var entries = [GGUFMetadataEntry(key: "general.type", type: .string, value: .string("model"))]
        entries += hyperparameters.entries
        entries.append(GGUFMetadataEntry(key: "bert.attention.causal", type: .bool, value: .bool(false)))
        if let pooling = try Self.poolingType(folder: folder) {
            entries.append(GGUFMetadataEntry(key: "bert.pooling_type", type: .uint32, value: .uint(UInt64(pooling))))
        }
        let typeCount = config.root["type_vocab_size"]
        guard typeCount == nil || typeCount!.integerValue.map({ $0 >= 0 }) == true else {
            throw .invalidValue(path: config.path, key: "type_vocab_size", expected: "a non-negative integer")
        }
        entries += [
            GGUFMetadataEntry(key: "tokenizer.ggml.token_type_count", type: .uint32,
                              value: .uint(UInt64(typeCount?.integerValue ?? 1))),
            GGUFMetadataEntry(key: "tokenizer.ggml.model", type: .string, value: .string("bert")),
            // llama.cpp reads no pre-tokenizer for a WordPiece ("bert") vocabulary
            // (src/llama-vocab.cpp: LLAMA_VOCAB_TYPE_WPM → LLAMA_VOCAB_PRE_TYPE_DEFAULT).
            // convert_hf_to_gguf.py names one by hashing the HF tokenizer's output on a test
            // string, which needs the Python tokenizer; "default" is the name it stands for.
            GGUFMetadataEntry(key: "tokenizer.ggml.pre", type: .string, value: .string("default")),
            GGUFMetadataEntry(key: "tokenizer.ggml.tokens", type: .array, elementType: .string,
                              value: .array(vocabulary.ggufTokens.map { .string($0) })),
            GGUFMetadataEntry(key: "tokenizer.ggml.token_type", type: .array, elementType: .int32,
                              value: .array(vocabulary.types.map { .int(Int64($0.rawValue)) })),
        ]
        entries += specialTokens.entries
        self.entries = entries
    }

    // MARK: - Tensor names

    /// The GGUF name of checkpoint tensor `name`, or `nil` for the tensors the converter drops
    /// (`embeddings.position_ids`, `pooler.*`, the masked-LM and next-sentence heads).
    ///
    /// A leading `bert.` is removed and `gamma`/`beta` read as `weight`/`bias`, as
    /// `BertModel.filter_tensors` does.
    /// - Throws: ``HuggingFaceFolderError/unmappedTensor(name:architecture:)`` for a name
    ///   gguf-py's table has no entry for (the converter raises "Can not map tensor").
    public func ggufName(for name: String) throws(HuggingFaceFolderError) -> String? {
        var base = name
        if base.hasPrefix("bert.") { base.removeFirst("bert.".count) }
        if base.hasSuffix(".gamma") { base = String(base.dropLast(".gamma".count)) + ".weight" }
        if base.hasSuffix(".beta") { base = String(base.dropLast(".beta".count)) + ".bias" }
        if ["embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"].contains(base)
            || base.hasPrefix("cls.predictions") || base.hasPrefix("cls.seq_relationship")
            || base.hasSuffix(".attention.masked_bias") || base.hasSuffix(".attention.bias")
            || base.hasSuffix(".rotary_emb.inv_freq") {
            return nil
        }
        for suffix in [".weight", ".bias"] where base.hasSuffix(suffix) {
            if let mapped = mappedModule(String(base.dropLast(suffix.count))) { return mapped + suffix }
        }
        throw .unmappedTensor(name: name, architecture: Self.ggufArchitecture)
    }

    /// gguf-py's `TensorNameMap` entries for BERT's modules (`tensor_mapping.py`, the lines
    /// marked `# bert`).
    private static let globalModules: [String: String] = [
        "embeddings.word_embeddings": "token_embd",
        "embeddings.position_embeddings": "position_embd",
        "embeddings.token_type_embeddings": "token_types",
        "embeddings.LayerNorm": "token_embd_norm",
    ]
    private static let blockModules: [String: String] = [
        "attention.self.query": "attn_q",
        "attention.self.key": "attn_k",
        "attention.self.value": "attn_v",
        "attention.output.dense": "attn_output",
        "attention.output.LayerNorm": "attn_output_norm",
        "intermediate.dense": "ffn_up",
        "output.dense": "ffn_down",
        "output.LayerNorm": "layer_output_norm",
    ]

    private func mappedModule(_ module: String) -> String? {
        if let global = Self.globalModules[module] { return global }
        let prefix = "encoder.layer."
        guard module.hasPrefix(prefix) else { return nil }
        let rest = module.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."),
              let block = Int(rest[..<dot]), String(block) == rest[..<dot], block < blockCount,
              let mapped = Self.blockModules[String(rest[rest.index(after: dot)...])]
        else { return nil }
        return "blk.\(block).\(mapped)"
    }

    // MARK: - Hyperparameters

    /// `TextModel.set_gguf_parameters` for a BERT config: each key is the first of its
    /// aliases present in `config.json` (a present `null` writes nothing, as `find_hparam`).
    private static func hyperparameterEntries(_ config: HuggingFaceJSONFile) throws(HuggingFaceFolderError) -> (blockCount: Int, entries: [GGUFMetadataEntry]) {
        func find(_ aliases: [String]) -> (key: String, node: JSONNode)? {
            for key in aliases { if let node = config.root[key] { return (key, node) } }
            return nil
        }
        func count(_ aliases: [String]) throws(HuggingFaceFolderError) -> Int? {
            guard let (key, node) = find(aliases), !node.isNull else { return nil }
            guard let value = node.integerValue, value >= 0, value <= Int(UInt32.max) else {
                throw .invalidValue(path: config.path, key: key, expected: "a non-negative integer below 2^32")
            }
            return value
        }
        guard let blockCount = try count(["n_layers", "num_hidden_layers", "n_layer", "num_layers"]) else {
            throw .invalidValue(path: config.path, key: "num_hidden_layers", expected: "the number of layers")
        }
        var entries = [GGUFMetadataEntry(key: "bert.block_count", type: .uint32, value: .uint(UInt64(blockCount)))]
        let counts: [(key: String, aliases: [String])] = [
            ("bert.context_length", ["max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length"]),
            ("bert.embedding_length", ["hidden_size", "n_embd", "dim"]),
            ("bert.feed_forward_length", ["prefix_dense_intermediate_size", "dense_intermediate_size", "intermediate_size", "n_inner", "hidden_dim"]),
            ("bert.attention.head_count", ["num_attention_heads", "n_head", "n_heads"]),
            ("bert.attention.head_count_kv", ["num_key_value_heads", "n_kv_heads"]),
        ]
        for (key, aliases) in counts {
            if let value = try count(aliases) { entries.append(GGUFMetadataEntry(key: key, type: .uint32, value: .uint(UInt64(value)))) }
        }
        let epsilons: [(key: String, aliases: [String])] = [
            ("bert.attention.layer_norm_rms_epsilon", ["rms_norm_eps", "norm_eps"]),
            ("bert.attention.layer_norm_epsilon", ["layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"]),
        ]
        for (key, aliases) in epsilons {
            guard let (name, node) = find(aliases), !node.isNull else { continue }
            guard let value = node.numberValue else {
                throw .invalidValue(path: config.path, key: name, expected: "a number")
            }
            entries.append(GGUFMetadataEntry(key: key, type: .float32, value: .float(Double(Float(value)))))
        }
        if let headSize = try count(["head_dim"]) {
            entries.append(GGUFMetadataEntry(key: "bert.attention.key_length", type: .uint32, value: .uint(UInt64(headSize))))
            entries.append(GGUFMetadataEntry(key: "bert.attention.value_length", type: .uint32, value: .uint(UInt64(headSize))))
        }
        return (blockCount, entries)
    }

    /// `_try_set_pooling_type`: llama.cpp's pooling type (mean 1, cls 2, last 3) from the
    /// first `*Pooling` module of sentence-transformers' `modules.json`, or `nil` without one.
    private static func poolingType(folder: String) throws(HuggingFaceFolderError) -> Int? {
        guard let modules = try HuggingFaceJSONFile.load("modules.json", in: folder) else { return nil }
        guard let list = modules.root.arrayValue else {
            throw .invalidValue(path: modules.path, key: "(top level)", expected: "an array of modules")
        }
        guard let pooling = list.first(where: { $0["type"]?.stringValue?.hasSuffix("Pooling") == true }) else { return nil }
        guard let path = pooling["path"]?.stringValue else {
            throw .invalidValue(path: modules.path, key: "path", expected: "the pooling module's folder")
        }
        let folderURL = URL(fileURLWithPath: folder).appendingPathComponent(path)
        guard let config = try HuggingFaceJSONFile.load("config.json", in: folderURL.path) else {
            throw .missingFile(path: folderURL.appendingPathComponent("config.json").path,
                               needed: "modules.json names this pooling module")
        }
        func flag(_ key: String) -> Bool { config.root[key]?.boolValue == true }
        if flag("pooling_mode_mean_tokens") { return 1 }
        if flag("pooling_mode_cls_token") { return 2 }
        if flag("pooling_mode_lasttoken") { return 3 }
        switch config.root["pooling_mode"]?.stringValue {
        case "mean": return 1
        case "cls": return 2
        case "lasttoken": return 3
        default: throw .unsupportedPooling(path: config.path)
        }
    }
}
