import Foundation
import Testing
import SwiftQuant
@testable import SwiftQuantGGUF

/// A tiny Hugging Face folder written in code: config.json, model.safetensors (F32, each
/// tensor's values its element index plus an offset, so moved rows are visible), a byte-level
/// BPE tokenizer.json and tokenizer_config.json.
private struct TinyFolder {
    var architecture = "LlamaForCausalLM"
    var heads = 4
    var kvHeads = 2
    var headDimension = 4
    var tiedEmbeddings = true
    var biases = false
    var configOverrides: [String: String] = [:]
    var dropConfigKeys: Set<String> = []
    var preTokenizer = #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#
    var extraTensors: [(String, [Int])] = []

    var hidden: Int { heads * headDimension }
    let vocabulary = 8

    var tensorShapes: [(String, [Int])] {
        var list: [(String, [Int])] = [("model.embed_tokens.weight", [vocabulary, hidden])]
        list += [
            ("model.layers.0.self_attn.q_proj.weight", [hidden, hidden]),
            ("model.layers.0.self_attn.k_proj.weight", [kvHeads * headDimension, hidden]),
            ("model.layers.0.self_attn.v_proj.weight", [kvHeads * headDimension, hidden]),
            ("model.layers.0.self_attn.o_proj.weight", [hidden, hidden]),
            ("model.layers.0.self_attn.rotary_emb.inv_freq", [headDimension / 2]),
            ("model.layers.0.mlp.gate_proj.weight", [32, hidden]),
            ("model.layers.0.mlp.up_proj.weight", [32, hidden]),
            ("model.layers.0.mlp.down_proj.weight", [hidden, 32]),
            ("model.layers.0.input_layernorm.weight", [hidden]),
            ("model.layers.0.post_attention_layernorm.weight", [hidden]),
            ("model.norm.weight", [hidden]),
        ]
        if biases {
            list += [("model.layers.0.self_attn.q_proj.bias", [hidden]), ("model.layers.0.self_attn.k_proj.bias", [kvHeads * headDimension])]
        }
        if !tiedEmbeddings { list.append(("lm_head.weight", [vocabulary, hidden])) }
        return list + extraTensors
    }

    func values(_ index: Int, _ shape: [Int]) -> [Float] {
        (0..<shape.reduce(1, *)).map { Float(index * 1000 + $0) }
    }

    func write() throws -> String {
        let folder = temporaryFolder() + "/tiny-\(architecture)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var config: [String: String] = [
            "architectures": "[\"\(architecture)\"]", "model_type": "\"llama\"", "vocab_size": "\(vocabulary)",
            "hidden_size": "\(hidden)", "intermediate_size": "32", "num_hidden_layers": "1",
            "num_attention_heads": "\(heads)", "num_key_value_heads": "\(kvHeads)", "max_position_embeddings": "128",
            "rms_norm_eps": "1e-05", "rope_theta": "10000.0", "tie_word_embeddings": tiedEmbeddings ? "true" : "false",
            "bos_token_id": "0", "eos_token_id": "1",
        ]
        config.merge(configOverrides) { _, new in new }
        for key in dropConfigKeys { config[key] = nil }
        let configText = "{" + config.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
        try configText.write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)

        var header: [String] = []
        var data: [Float] = []
        for (index, (name, shape)) in tensorShapes.enumerated() {
            let start = data.count * 4
            data += values(index, shape)
            header.append("\"\(name)\": {\"dtype\": \"F32\", \"shape\": \(shape), \"data_offsets\": [\(start), \(data.count * 4)]}")
        }
        var headerBytes = Array(("{" + header.joined(separator: ", ") + "}").utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var file = withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { Array($0) } + headerBytes
        data.withUnsafeBytes { file += $0 }
        try Data(file).write(to: URL(fileURLWithPath: folder + "/model.safetensors"))

        let tokenizer = """
        {"version": "1.0", "added_tokens": [
           {"id": 0, "content": "<s>", "special": true, "normalized": false},
           {"id": 1, "content": "</s>", "special": true, "normalized": false}],
         "normalizer": null, "pre_tokenizer": \(preTokenizer),
         "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
         "decoder": {"type": "ByteLevel"},
         "model": {"type": "BPE", "vocab": {"<s>": 0, "</s>": 1, "a": 2, "b": 3, "\\u0120": 4, "ab": 5},
                   "merges": [["a", "b"], ["\\u0120", "a"]]}}
        """
        try tokenizer.write(toFile: folder + "/tokenizer.json", atomically: true, encoding: .utf8)
        try #"{"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true, "chat_template": "{{ messages }}"}"#
            .write(toFile: folder + "/tokenizer_config.json", atomically: true, encoding: .utf8)
        return folder
    }

    func view() throws -> HuggingFaceGGUFSource {
        let folder = try write()
        let source = try HuggingFaceGGUFSource.view(of: try openTensorSource(at: folder), input: folder, architecture: nil)
        return try #require(source as? HuggingFaceGGUFSource)
    }
}

private func entry(_ key: String, in entries: [GGUFMetadataEntry]) -> GGUFMetadataEntry? {
    entries.first { $0.key == key }
}

/// The row a Hugging Face q/k row lands on in GGUF, written out from `LlamaModel.permute`
/// (reshape(n_head, 2, d/2, cols).swapaxes(1, 2)): output row r of head h takes input row
/// h·d + (r mod 2)·d/2 + (r mod d) / 2.
private func sourceRow(ofOutputRow row: Int, rowsPerHead d: Int) -> Int {
    let head = row / d, within = row % d
    return head * d + (within % 2) * (d / 2) + within / 2
}

@Suite struct HuggingFaceGGUFTests {
    @Test func llamaTensorsGetGGUFNamesAndInvFreqIsDropped() throws {
        let view = try TinyFolder().view()
        #expect(view.ggufArchitecture == "llama")
        #expect(view.tensors.map(\.name) == [
            "token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight",
            "blk.0.attn_output.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight",
            "blk.0.attn_norm.weight", "blk.0.ffn_norm.weight", "output_norm.weight",
        ])  // tied embeddings: no output.weight
        let untied = try TinyFolder(tiedEmbeddings: false).view()
        #expect(untied.tensors.last?.name == "output.weight")
    }

    @Test func queryAndKeyRowsArePermutedPerHead() throws {
        let folder = TinyFolder()
        let view = try folder.view()
        let shapes = folder.tensorShapes
        for (name, hfName, rowsPerHead) in [("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight", folder.hidden / folder.heads),
                                             ("blk.0.attn_k.weight", "model.layers.0.self_attn.k_proj.weight", folder.headDimension)] {
            let index = try #require(shapes.firstIndex { $0.0 == hfName })
            let original = folder.values(index, shapes[index].1)
            let columns = shapes[index].1[1]
            let permuted = try view.floats(for: name)
            let bytes = try view.data(for: name)
            let fromBytes = withExtendedLifetime(bytes) { Array(bytes.bytes.bindMemory(to: Float.self)) }
            #expect(fromBytes == permuted)
            for row in 0..<shapes[index].1[0] {
                let source = sourceRow(ofOutputRow: row, rowsPerHead: rowsPerHead)
                #expect(Array(permuted[row * columns..<(row + 1) * columns]) == Array(original[source * columns..<(source + 1) * columns]), "\(name) row \(row)")
            }
            #expect(permuted != original)
        }
        // v is not permuted.
        let vIndex = try #require(shapes.firstIndex { $0.0 == "model.layers.0.self_attn.v_proj.weight" })
        #expect(try view.floats(for: "blk.0.attn_v.weight") == folder.values(vIndex, shapes[vIndex].1))
    }

    @Test func qwen2KeepsBiasesAndRowOrder() throws {
        let folder = TinyFolder(architecture: "Qwen2ForCausalLM", biases: true)
        let view = try folder.view()
        #expect(view.ggufArchitecture == "qwen2")
        #expect(view.tensors.contains { $0.name == "blk.0.attn_q.bias" && $0.dtype == .f32 })
        let shapes = folder.tensorShapes
        let index = try #require(shapes.firstIndex { $0.0 == "model.layers.0.self_attn.q_proj.weight" })
        #expect(try view.floats(for: "blk.0.attn_q.weight") == folder.values(index, shapes[index].1))
        #expect(entry("qwen2.vocab_size", in: view.entries) == nil)  // LlamaModel adds it; Qwen2Model does not
        #expect(entry("qwen2.block_count", in: view.entries)?.value == .uint(1))
    }

    @Test func hyperparameterAndTokenizerEntriesHaveTheConvertersKeysAndTypes() throws {
        let view = try TinyFolder().view()
        let expected: [(String, GGUFValueType, MetadataValue)] = [
            ("llama.block_count", .uint32, .uint(1)), ("llama.context_length", .uint32, .uint(128)),
            ("llama.embedding_length", .uint32, .uint(16)), ("llama.feed_forward_length", .uint32, .uint(32)),
            ("llama.attention.head_count", .uint32, .uint(4)), ("llama.attention.head_count_kv", .uint32, .uint(2)),
            ("llama.rope.freq_base", .float32, .float(10000)),
            ("llama.attention.layer_norm_rms_epsilon", .float32, .float(Double(Float(1e-5)))),
            ("llama.vocab_size", .uint32, .uint(8)), ("llama.rope.dimension_count", .uint32, .uint(4)),
            ("tokenizer.ggml.model", .string, .string("gpt2")), ("tokenizer.ggml.pre", .string, .string("gpt-2")),
            ("tokenizer.ggml.bos_token_id", .uint32, .uint(0)), ("tokenizer.ggml.eos_token_id", .uint32, .uint(1)),
            ("tokenizer.ggml.add_bos_token", .bool, .bool(false)),  // ByteLevel post-processor wins over tokenizer_config
            ("tokenizer.chat_template", .string, .string("{{ messages }}")),
        ]
        for (key, type, value) in expected {
            let found = try #require(entry(key, in: view.entries), "\(key)")
            #expect(found.type == type && found.value == value, "\(key): \(found)")
        }
        let tokens = try #require(entry("tokenizer.ggml.tokens", in: view.entries))
        #expect(tokens.value == .array(["<s>", "</s>", "a", "b", "\u{0120}", "ab", "[PAD6]", "[PAD7]"].map { .string($0) }))
        let types = try #require(entry("tokenizer.ggml.token_type", in: view.entries))
        #expect(types.elementType == .int32 && types.value == .array([3, 3, 1, 1, 1, 1, 5, 5].map { .int($0) }))
        #expect(entry("tokenizer.ggml.merges", in: view.entries)?.value == .array([.string("a b"), .string("\u{0120} a")]))
        // 1-D tensors and norms are F32 as llama.cpp reads them (already F32 here).
        #expect(view.tensors.filter { $0.shape.count == 1 }.allSatisfy { $0.dtype == .f32 })
    }

    @Test func preTokenizerIsNamedFromItsRegex() throws {
        let split = { (regex: String) in
            #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\#(regex)"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}"#
        }
        let llama3 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"#
        let view = try TinyFolder(preTokenizer: split(llama3)).view()
        #expect(entry("tokenizer.ggml.pre", in: view.entries)?.value == .string("llama-bpe"))
        let qwen2 = llama3.replacingOccurrences(of: "\\\\p{N}{1,3}", with: "\\\\p{N}")
        #expect(entry("tokenizer.ggml.pre", in: try TinyFolder(preTokenizer: split(qwen2)).view().entries)?.value == .string("qwen2"))
        #expect(throws: HuggingFaceGGUFError.self) { try TinyFolder(preTokenizer: split("\\\\w+")).view() }
        do {
            _ = try TinyFolder(preTokenizer: split("\\\\w+")).view()
        } catch let error as HuggingFaceGGUFError {
            guard case .unknownPreTokenizer = error else { Issue.record("wrong error \(error)"); return }
            #expect(!error.description.contains("\n") && error.description.contains("convert_hf_to_gguf.py"))
        }
    }

    @Test func otherArchitecturesMissingKeysAndUnknownTensorsAreRefusedInOneLine() throws {
        let cases: [(TinyFolder, (HuggingFaceGGUFError) -> Bool)] = [
            (TinyFolder(architecture: "GPT2LMHeadModel"), { if case .unsupportedArchitecture(_, "GPT2LMHeadModel", let known) = $0 { known.contains("LlamaForCausalLM") } else { false } }),
            (TinyFolder(dropConfigKeys: ["num_hidden_layers"]), { if case .missingKey(_, "n_layers") = $0 { true } else { false } }),
            (TinyFolder(configOverrides: ["hidden_size": "\"sixteen\""]), { if case .invalidValue(_, "hidden_size", _) = $0 { true } else { false } }),
            (TinyFolder(extraTensors: [("model.layers.0.self_attn.q_norm.weight", [4])]), { if case .unmappedTensor(_, "model.layers.0.self_attn.q_norm.weight", "llama") = $0 { true } else { false } }),
            (TinyFolder(configOverrides: ["rope_scaling": #"{"rope_type": "longrope", "factor": 2.0}"#]), { if case .unsupportedRopeScaling(_, "longrope") = $0 { true } else { false } }),
            (TinyFolder(configOverrides: ["num_local_experts": "8"]), { if case .unsupportedFeature = $0 { true } else { false } }),
        ]
        for (folder, matches) in cases {
            do {
                _ = try folder.view()
                Issue.record("\(folder.architecture) \(folder.dropConfigKeys) converted")
            } catch let error as HuggingFaceGGUFError {
                #expect(matches(error), "\(error)")
                #expect(!error.description.contains("\n"))
            }
        }
    }

    @Test func llama3RopeScalingWritesRopeFreqs() throws {
        let rope = #"{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 0.5, "high_freq_factor": 1.0, "original_max_position_embeddings": 8}"#
        let view = try TinyFolder(configOverrides: ["rope_scaling": rope]).view()
        #expect(view.tensors.first?.name == "rope_freqs.weight" && view.tensors.first?.shape == [2])
        // Two frequencies for head size 4: 1 (wavelength 2π below 8/1: factor 1) and 1/100
        // (wavelength 628 above 8/0.5: the full factor 8).
        #expect(try view.floats(for: "rope_freqs.weight") == [1, 8])
    }

    @Test func convertWritesGGUFNamesAndTokenizerAndRefusalsLeaveNoFile() throws {
        let folder = try TinyFolder().write()
        let output = temporaryFolder() + "/tiny.gguf"
        _ = try convert(input: folder, output: output)
        let gguf = try GGUFFile(path: output)
        #expect(gguf.metadata["general.architecture"] == .string("llama"))
        #expect(gguf.metadata["tokenizer.ggml.model"] == .string("gpt2"))
        #expect(gguf.metadata.keys.allSatisfy { !$0.hasPrefix("hf.") })
        #expect(gguf.tensors.map(\.name).contains("blk.0.attn_q.weight"))
        #expect(gguf.tensors.first { $0.name == "blk.0.ffn_down.weight" }?.dtype == .q8_0)  // rows of 32: Q8_0
        // An explicit architecture keeps the old behaviour: the Hugging Face names as they are.
        let raw = temporaryFolder() + "/raw.gguf"
        _ = try convert(input: folder, output: raw, options: ConversionOptions(architecture: "llama"))
        #expect(try GGUFFile(path: raw).tensors.contains { $0.name == "model.layers.0.self_attn.q_proj.weight" })

        let refused = try TinyFolder(architecture: "GPT2LMHeadModel").write()
        let nothing = temporaryFolder() + "/refused.gguf"
        #expect(throws: HuggingFaceGGUFError.self) { try convert(input: refused, output: nothing) }
        #expect(!FileManager.default.fileExists(atPath: nothing))
    }
}
