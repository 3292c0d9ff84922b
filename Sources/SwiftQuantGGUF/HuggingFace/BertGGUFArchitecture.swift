import Foundation
import SwiftQuantCore

/// `BertModel` and `BertForMaskedLM` (sentence-transformers models such as all-MiniLM-L6-v2)
/// as llama.cpp's `convert_hf_to_gguf.py` writes them, architecture `bert`: gguf-py's tensor
/// names, the `bert.*` hyperparameters with non-causal attention and sentence-transformers'
/// pooling type, and the WordPiece vocabulary in llama.cpp's form with its special tokens.
///
/// Source: `conversion/bert.py` (class `BertModel`), `conversion/base.py` (`TextModel`:
/// `set_gguf_parameters`, `get_vocab_base`, `_try_set_pooling_type`), gguf-py's
/// `tensor_mapping.py` and `vocab.py`, in the llama.cpp vendored by llama-cpp-python 0.3.36.
/// Classification heads (`BertForSequenceClassification`) are not converted.
public struct BertGGUFArchitecture: HuggingFaceGGUFArchitecture {
    public init() {}
    public var huggingFaceNames: [String] { ["BertModel", "BertForMaskedLM"] }
    public var ggufArchitecture: String { "bert" }

    // MARK: - Tensors

    /// The GGUF name of checkpoint tensor `name`, or `nil` for the tensors the converter drops
    /// (`embeddings.position_ids`, `pooler.*`, the masked-LM and next-sentence heads).
    ///
    /// A leading `bert.` is removed and `gamma`/`beta` read as `weight`/`bias`, as
    /// `BertModel.filter_tensors` does; blocks at or past `num_hidden_layers` have no name,
    /// as in gguf-py's table.
    public func mapping(forTensor name: String, shape: [Int], in folder: HuggingFaceFolder) throws -> HuggingFaceTensorMapping? {
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
        let blockCount = try folder.config.requiredInteger("n_layers", "num_hidden_layers", "n_layer", "num_layers")
        for suffix in [".weight", ".bias"] where base.hasSuffix(suffix) {
            if let mapped = Self.module(String(base.dropLast(suffix.count)), blockCount: blockCount) {
                return HuggingFaceTensorMapping(ggufName: mapped + suffix)
            }
        }
        throw HuggingFaceGGUFError.unmappedTensor(input: folder.path, tensor: name, architecture: ggufArchitecture)
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

    private static func module(_ module: String, blockCount: Int) -> String? {
        if let global = globalModules[module] { return global }
        let prefix = "encoder.layer."
        guard module.hasPrefix(prefix) else { return nil }
        let rest = module.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."),
              let block = Int(rest[..<dot]), String(block) == rest[..<dot], block < blockCount,
              let mapped = blockModules[String(rest[rest.index(after: dot)...])]
        else { return nil }
        return "blk.\(block).\(mapped)"
    }

    // MARK: - Metadata

    /// `TextModel.set_gguf_parameters`'s keys, then `BertModel`'s: `bert.attention.causal`
    /// false and `bert.pooling_type` for a sentence-transformers folder.
    public func hyperparameters(of folder: HuggingFaceFolder) throws -> [GGUFMetadataEntry] {
        var entries = try TextModelParameters.entries(architecture: ggufArchitecture, folder: folder)
        entries.removeAll { $0.key == "bert.attention.causal" }
        entries.append(.bool("bert.attention.causal", false))
        if let pooling = try Self.poolingType(folder: folder) {
            entries.append(.uint32("bert.pooling_type", pooling))
        }
        return entries
    }

    /// `BertModel.set_vocab`: the token type count, model `bert`, the vocabulary and its
    /// types, then gguf-py's special tokens.
    public func tokenizer(of folder: HuggingFaceFolder) throws -> [GGUFMetadataEntry] {
        let vocabulary = try BertVocabulary(folder: folder)
        let typeCount = try folder.config.integer("type_vocab_size") ?? 1
        var entries: [GGUFMetadataEntry] = [
            .uint32("tokenizer.ggml.token_type_count", typeCount),
            .string("tokenizer.ggml.model", "bert"),
            // llama.cpp reads no pre-tokenizer for a WordPiece ("bert") vocabulary
            // (src/llama-vocab.cpp: LLAMA_VOCAB_TYPE_WPM → LLAMA_VOCAB_PRE_TYPE_DEFAULT).
            // convert_hf_to_gguf.py names one by hashing the Python tokenizer's output on a test
            // string ("jina-v2-en" for bert-base-uncased's); "default" is what llama.cpp uses.
            .string("tokenizer.ggml.pre", "default"),
            GGUFMetadataEntry(key: "tokenizer.ggml.tokens", type: .array, elementType: .string,
                              value: .array(vocabulary.ggufTokens.map { .string($0) })),
            GGUFMetadataEntry(key: "tokenizer.ggml.token_type", type: .array, elementType: .int32,
                              value: .array(vocabulary.types.map { .int($0.rawValue) })),
        ]
        entries += try SpecialVocabulary(
            folder: folder, tokenizer: folder.json("tokenizer.json"), tokenizerConfig: folder.json("tokenizer_config.json"),
            vocabularySize: vocabulary.tokens.count, loadMerges: false).entries
        return entries
    }

    /// `_try_set_pooling_type`: llama.cpp's pooling type (mean 1, cls 2, last 3) from the
    /// first `*Pooling` module of sentence-transformers' `modules.json`, or `nil` without one.
    static func poolingType(folder: HuggingFaceFolder) throws -> Int? {
        guard folder.has("modules.json") else { return nil }
        let modulesPath = folder.file("modules.json")
        guard case .array(let list) = try HuggingFaceJSON.parse(contentsOf: modulesPath).value else {
            throw HuggingFaceGGUFError.invalidValue(file: modulesPath, key: "(top level)", expected: "an array of modules")
        }
        var pooling: HuggingFaceJSON?
        for (index, node) in list.enumerated() {
            let module = try HuggingFaceJSON(file: modulesPath, prefix: "[\(index)].", node: node)
            if try module.string("type")?.hasSuffix("Pooling") == true {
                pooling = module
                break
            }
        }
        guard let pooling else { return nil }
        guard let path = try pooling.string("path") else { throw HuggingFaceGGUFError.missingKey(file: modulesPath, key: pooling.prefix + "path") }
        let configPath = (folder.file(path) as NSString).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw HuggingFaceGGUFError.unreadableFile(path: configPath, reason: "not found, and modules.json names this pooling module")
        }
        let config = try HuggingFaceJSON(contentsOf: configPath)
        // Python's truthiness, as the converter tests the flags: a present, non-false value.
        func flag(_ key: String) -> Bool {
            guard let node = config.node(key) else { return false }
            if case .bool(let value) = node.value { return value }
            if case .number(let text) = node.value { return Double(text) != 0 }
            return true
        }
        if flag("pooling_mode_mean_tokens") { return 1 }
        if flag("pooling_mode_cls_token") { return 2 }
        if flag("pooling_mode_lasttoken") { return 3 }
        switch try? config.string("pooling_mode") {
        case "mean": return 1
        case "cls": return 2
        case "lasttoken": return 3
        default:
            throw HuggingFaceGGUFError.invalidValue(
                file: configPath, key: "pooling_mode_*",
                expected: "one of mean, cls or lasttoken, the pooling types llama.cpp has (convert_hf_to_gguf.py refuses the others too)")
        }
    }
}
