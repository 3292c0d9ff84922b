import Foundation
import Testing
import SwiftQuant
@testable import SwiftQuantGGUF

/// A BERT folder in the layout Hugging Face and sentence-transformers write, with only the
/// files given (`name → contents`).
private func bertFolder(_ files: [String: String]) throws -> String {
    let folder = temporaryFolder()
    for (name, contents) in files {
        let url = URL(fileURLWithPath: folder).appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try contents.write(to: url, atomically: true, encoding: .utf8)
    }
    return folder
}

private let tinyConfig = """
    {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 32, "intermediate_size": 64,
     "num_attention_heads": 4, "num_hidden_layers": 2, "max_position_embeddings": 16, "layer_norm_eps": 1e-12,
     "type_vocab_size": 2, "vocab_size": 10, "pad_token_id": 0}
    """

/// bert-base-uncased's tokenizer.json shape: BertNormalizer, WordPiece vocabulary, the five
/// special tokens as added tokens, and the `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]` template.
private let tinyTokenizer = """
    {"added_tokens": [
       {"id": 0, "content": "[PAD]", "special": true, "normalized": false},
       {"id": 1, "content": "[UNK]", "special": true, "normalized": false},
       {"id": 2, "content": "[CLS]", "special": true, "normalized": false},
       {"id": 3, "content": "[SEP]", "special": true, "normalized": false},
       {"id": 4, "content": "[MASK]", "special": true, "normalized": false}],
     "normalizer": {"type": "BertNormalizer", "clean_text": true, "lowercase": true, "strip_accents": null},
     "post_processor": {"type": "TemplateProcessing",
       "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
       "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 1}}]},
     "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
       "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "hello": 5, "##ing": 6, "##\\u093e": 7, "[unused0]": 8}}}
    """

private let tinyTokenizerConfig = """
    {"do_lower_case": true, "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
    """

private func entry(_ entries: [GGUFMetadataEntry], _ key: String) -> GGUFMetadataEntry? {
    entries.first { $0.key == key }
}

private let bert = BertGGUFArchitecture()

private func huggingFaceFolder(_ path: String) throws -> HuggingFaceFolder {
    try #require(try HuggingFaceFolder(path: path))
}

/// Every entry the BERT mapping writes for the folder: hyperparameters, then the tokenizer.
private func bertEntries(_ path: String) throws -> [GGUFMetadataEntry] {
    let folder = try huggingFaceFolder(path)
    return try bert.hyperparameters(of: folder) + bert.tokenizer(of: folder)
}

@Suite struct BertGGUFArchitectureTests {
    /// BertModel.set_vocab: control tokens unchanged, "##" stripped, "▁" before every other
    /// token; ids below vocab_size the tokenizer lacks become "[PAD<id>]", unused (type 5),
    /// and take the "▁" too. "##ा" (a combining vowel sign after "##") loses its "##" too:
    /// Python cuts code points, not grapheme clusters.
    @Test func vocabularyIsRewrittenAsTheConverterDoes() throws {
        let folder = try bertFolder(["config.json": tinyConfig, "tokenizer.json": tinyTokenizer,
                                     "tokenizer_config.json": tinyTokenizerConfig])
        let entries = try bertEntries(folder)
        let tokens = try #require(entry(entries, "tokenizer.ggml.tokens"))
        #expect(tokens.elementType == .string)
        #expect(tokens.value == .array(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "▁hello", "ing", "\u{093E}", "▁[unused0]", "▁[PAD9]"].map { .string($0) }))
        let types = try #require(entry(entries, "tokenizer.ggml.token_type"))
        #expect(types.elementType == .int32)
        #expect(types.value == .array([3, 3, 3, 3, 3, 1, 1, 1, 1, 5].map { .int($0) }))
        #expect(entry(entries, "tokenizer.ggml.model")?.value == .string("bert"))
        #expect(entry(entries, "tokenizer.ggml.token_type_count")?.value == .uint(2))
    }

    /// gguf-py's SpecialVocab on a BERT template: BOS is [CLS] and EOS is [SEP] (from the
    /// template, for lack of bos/eos tokens), both added; SEP is not added separately because
    /// the template ends with it; [CLS] has no GGUF key; the normalizer's lowercase flag.
    @Test func specialTokensFollowTheTemplate() throws {
        let folder = try bertFolder(["config.json": tinyConfig, "tokenizer.json": tinyTokenizer,
                                     "tokenizer_config.json": tinyTokenizerConfig])
        let entries = try bertEntries(folder)
        let expected: [(String, MetadataValue)] = [
            ("tokenizer.ggml.bos_token_id", .uint(2)), ("tokenizer.ggml.eos_token_id", .uint(3)),
            ("tokenizer.ggml.unknown_token_id", .uint(1)), ("tokenizer.ggml.seperator_token_id", .uint(3)),
            ("tokenizer.ggml.padding_token_id", .uint(0)), ("tokenizer.ggml.mask_token_id", .uint(4)),
            ("tokenizer.ggml.add_bos_token", .bool(true)), ("tokenizer.ggml.add_eos_token", .bool(true)),
            ("tokenizer.ggml.add_sep_token", .bool(false)), ("tokenizer.ggml.normalizer.lowercase", .bool(true)),
        ]
        let tail = entries.suffix(expected.count)
        #expect(tail.map(\.key) == expected.map(\.0))
        #expect(tail.map(\.value) == expected.map(\.1))
        #expect(entry(entries, "tokenizer.ggml.normalizer.strip_accents") == nil)
        #expect(!entries.contains { $0.key.contains("cls") })
    }

    /// The hyperparameters TextModel.set_gguf_parameters writes for a BERT config, with their
    /// GGUF types (u32 counts, f32 epsilon), plus BertModel's causal flag.
    @Test func hyperparametersComeFromConfig() throws {
        let folder = try bertFolder(["config.json": tinyConfig, "tokenizer.json": tinyTokenizer])
        let entries = try bertEntries(folder)
        let counts: [(String, UInt64)] = [
            ("bert.block_count", 2), ("bert.context_length", 16), ("bert.embedding_length", 32),
            ("bert.feed_forward_length", 64), ("bert.attention.head_count", 4),
        ]
        for (key, value) in counts {
            #expect(entry(entries, key) == GGUFMetadataEntry(key: key, type: .uint32, value: .uint(value)))
        }
        #expect(entry(entries, "bert.attention.layer_norm_epsilon")
            == GGUFMetadataEntry(key: "bert.attention.layer_norm_epsilon", type: .float32, value: .float(Double(Float(1e-12)))))
        #expect(entry(entries, "bert.attention.causal")?.value == .bool(false))
        #expect(entry(entries, "bert.attention.head_count_kv") == nil)
        // No modules.json: not a sentence-transformers folder, so no pooling type.
        #expect(entry(entries, "bert.pooling_type") == nil)
    }

    /// _try_set_pooling_type: the first *Pooling module's config decides (mean 1, cls 2,
    /// last 3); a mode llama.cpp lacks is refused.
    @Test(arguments: [("pooling_mode_mean_tokens", 1), ("pooling_mode_cls_token", 2), ("pooling_mode_lasttoken", 3)])
    func poolingTypeFromSentenceTransformers(mode: String, expected: UInt64) throws {
        let modules = """
            [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
             {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
            """
        let folder = try bertFolder(["config.json": tinyConfig, "tokenizer.json": tinyTokenizer, "modules.json": modules,
                                     "1_Pooling/config.json": "{\"\(mode)\": true, \"pooling_mode_max_tokens\": false}"])
        let entries = try bertEntries(folder)
        #expect(entry(entries, "bert.pooling_type") == GGUFMetadataEntry(key: "bert.pooling_type", type: .uint32, value: .uint(expected)))
    }

    @Test func maxPoolingIsRefused() throws {
        let modules = #"[{"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]"#
        let folder = try bertFolder(["config.json": tinyConfig, "tokenizer.json": tinyTokenizer, "modules.json": modules,
                                     "1_Pooling/config.json": #"{"pooling_mode_max_tokens": true}"#])
        do {
            _ = try bertEntries(folder)
            Issue.record("max pooling was accepted")
        } catch let error as HuggingFaceGGUFError {
            guard case .invalidValue(let file, let key, _) = error else { Issue.record("\(error)"); return }
            #expect(file == folder + "/1_Pooling/config.json")
            #expect(key == "pooling_mode_*")
            #expect(!error.description.contains("\n"))
        }
    }

    /// gguf-py's tensor_mapping.py names for BERT, and the tensors BertModel.filter_tensors
    /// drops; a leading "bert." and gamma/beta are normalised first.
    @Test func tensorNamesFollowGGUFPy() throws {
        let folder = try bertFolder(["config.json": tinyConfig, "tokenizer.json": tinyTokenizer])
        let hf = try huggingFaceFolder(folder)
        let expected: [(String, String?)] = [
            ("embeddings.word_embeddings.weight", "token_embd.weight"),
            ("embeddings.position_embeddings.weight", "position_embd.weight"),
            ("embeddings.token_type_embeddings.weight", "token_types.weight"),
            ("embeddings.LayerNorm.weight", "token_embd_norm.weight"),
            ("bert.embeddings.LayerNorm.gamma", "token_embd_norm.weight"),
            ("embeddings.LayerNorm.beta", "token_embd_norm.bias"),
            ("encoder.layer.0.attention.self.query.weight", "blk.0.attn_q.weight"),
            ("encoder.layer.1.attention.self.key.bias", "blk.1.attn_k.bias"),
            ("encoder.layer.0.attention.self.value.weight", "blk.0.attn_v.weight"),
            ("encoder.layer.0.attention.output.dense.weight", "blk.0.attn_output.weight"),
            ("encoder.layer.0.attention.output.LayerNorm.bias", "blk.0.attn_output_norm.bias"),
            ("encoder.layer.1.intermediate.dense.weight", "blk.1.ffn_up.weight"),
            ("encoder.layer.1.output.dense.bias", "blk.1.ffn_down.bias"),
            ("encoder.layer.1.output.LayerNorm.weight", "blk.1.layer_output_norm.weight"),
            ("embeddings.position_ids", nil), ("pooler.dense.weight", nil), ("bert.pooler.dense.bias", nil),
            ("cls.predictions.transform.dense.weight", nil), ("cls.seq_relationship.weight", nil),
        ]
        for (name, gguf) in expected {
            #expect(try bert.mapping(forTensor: name, shape: [1], in: hf)?.ggufName == gguf, "\(name)")
        }
        // Block 2 does not exist in a two-layer model; unknown modules are refused as the converter does.
        for name in ["encoder.layer.2.output.dense.weight", "encoder.layer.01.output.dense.weight", "classifier.weight"] {
            #expect(throws: HuggingFaceGGUFError.unmappedTensor(input: folder, tensor: name, architecture: "bert")) {
                try bert.mapping(forTensor: name, shape: [1], in: hf)
            }
        }
    }

    /// Without tokenizer.json: vocab.txt line numbers are the ids, tokenizer_config's special
    /// tokens are control tokens; only config.json's pad id is found (gguf-py looks special ids
    /// up in tokenizer.json's added tokens).
    @Test func vocabTxtWithoutTokenizerJSON() throws {
        let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "##ing", "world", "a", "b"].joined(separator: "\n") + "\n"
        let folder = try bertFolder(["config.json": tinyConfig, "vocab.txt": vocab, "tokenizer_config.json": tinyTokenizerConfig])
        let entries = try bertEntries(folder)
        #expect(entry(entries, "tokenizer.ggml.tokens")?.value
            == .array(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "▁hello", "ing", "▁world", "▁a", "▁b"].map { .string($0) }))
        #expect(entry(entries, "tokenizer.ggml.token_type")?.value == .array([3, 3, 3, 3, 3, 1, 1, 1, 1, 1].map { .int($0) }))
        #expect(entry(entries, "tokenizer.ggml.padding_token_id")?.value == .uint(0))
        #expect(entry(entries, "tokenizer.ggml.bos_token_id") == nil)
    }

    @Test func brokenFolderErrorsNameTheFile() throws {
        let badModules = try bertFolder(["config.json": tinyConfig, "tokenizer.json": tinyTokenizer, "modules.json": "[{\"type\": \"Pooling\",, }]"])
        do {
            _ = try bertEntries(badModules)
            Issue.record("a malformed modules.json was accepted")
        } catch let error as HuggingFaceGGUFError {
            guard case .unreadableFile(let path, let reason) = error else { Issue.record("\(error)"); return }
            #expect(path == badModules + "/modules.json")
            #expect(reason.hasPrefix("not valid JSON at byte 20"), "\(reason)")
        }
        let noTokenizer = try bertFolder(["config.json": tinyConfig])
        #expect(throws: HuggingFaceGGUFError.self) { try bertEntries(noTokenizer) }
        let tooLarge = try bertFolder(["config.json": tinyConfig.replacingOccurrences(of: "\"vocab_size\": 10", with: "\"vocab_size\": 8"),
                                       "tokenizer.json": tinyTokenizer])
        do {
            _ = try bertEntries(tooLarge)
            Issue.record("a token id past vocab_size was accepted")
        } catch let error as HuggingFaceGGUFError {
            guard case .invalidValue(let file, let key, _) = error else { Issue.record("\(error)"); return }
            #expect(file == tooLarge + "/tokenizer.json")
            #expect(key == "[unused0]")
        }
    }

    /// The real all-MiniLM-L6-v2 folder: every tensor maps to a GGUF name or is one of the
    /// three the converter drops, 101 remain (convert_hf_to_gguf.py's count), and the
    /// sentence-transformers pooling is mean.
    @Test func miniLMFolder() throws {
        let folder = try TestModels.miniLM
        let source = try openTensorSource(at: folder)
        let view = try #require(try HuggingFaceGGUFSource.view(of: source, input: folder, architecture: nil) as? HuggingFaceGGUFSource)
        #expect(view.ggufArchitecture == "bert")
        let kept = Set(view.tensors.map(\.name))
        let hf = try huggingFaceFolder(folder)
        let dropped = try source.tensors.filter { try bert.mapping(forTensor: $0.name, shape: $0.shape, in: hf) == nil }.map(\.name)
        #expect(Set(dropped).isSubset(of: ["embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"]))
        #expect(kept.count == 101)
        #expect(kept.count + dropped.count == source.tensors.count)
        #expect(entry(view.entries, "bert.pooling_type")?.value == .uint(1))
        #expect(entry(view.entries, "bert.block_count")?.value == .uint(6))
        guard case .array(let tokens)? = entry(view.entries, "tokenizer.ggml.tokens")?.value else {
            Issue.record("no token list"); return
        }
        #expect(tokens.count == 30522)
        #expect(tokens[101] == .string("[CLS]"))
    }
}
