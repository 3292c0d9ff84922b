import Foundation
import Testing
import SwiftQuant

/// A GGUF v3 file written byte by byte (the format's own layout, not our writer): F32 tensors
/// and the metadata llama.cpp's converter writes for a llama.
private struct GGUFBytes {
    private var header: [UInt8] = []
    private var infos: [UInt8] = []
    private var data: [UInt8] = []
    private var keyCount = 0
    private var tensorCount = 0

    private static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    private static func string(_ text: String) -> [UInt8] { le(UInt64(text.utf8.count)) + Array(text.utf8) }

    mutating func add(_ key: String, u32 value: UInt32) { add(key, type: 4, Self.le(value)) }
    mutating func add(_ key: String, f32 value: Float) { add(key, type: 6, Self.le(value.bitPattern)) }
    mutating func add(_ key: String, bool value: Bool) { add(key, type: 7, [value ? 1 : 0]) }
    mutating func add(_ key: String, string value: String) { add(key, type: 8, Self.string(value)) }
    mutating func add(_ key: String, strings: [String]) {
        add(key, type: 9, Self.le(UInt32(8)) + Self.le(UInt64(strings.count)) + strings.flatMap(Self.string))
    }
    mutating func add(_ key: String, f32s: [Float]) {
        add(key, type: 9, Self.le(UInt32(6)) + Self.le(UInt64(f32s.count)) + f32s.flatMap { Self.le($0.bitPattern) })
    }
    mutating func add(_ key: String, i32s: [Int32]) {
        add(key, type: 9, Self.le(UInt32(5)) + Self.le(UInt64(i32s.count)) + i32s.flatMap { Self.le($0) })
    }
    private mutating func add(_ key: String, type: UInt32, _ value: [UInt8]) {
        header += Self.string(key) + Self.le(type) + value
        keyCount += 1
    }

    /// An F32 tensor of row-major `shape` (GGUF lists dimensions innermost first).
    mutating func add(tensor name: String, shape: [Int], _ values: [Float]) {
        precondition(values.count == shape.reduce(1, *))
        while data.count % 32 != 0 { data.append(0) }
        infos += Self.string(name) + Self.le(UInt32(shape.count)) + shape.reversed().flatMap { Self.le(UInt64($0)) }
        infos += Self.le(UInt32(0)) + Self.le(UInt64(data.count))
        data += values.flatMap { Self.le($0.bitPattern) }
        tensorCount += 1
    }

    func write(to path: String) throws {
        var bytes = Array("GGUF".utf8) + Self.le(UInt32(3)) + Self.le(UInt64(tensorCount)) + Self.le(UInt64(keyCount))
        bytes += header + infos
        while bytes.count % 32 != 0 { bytes.append(0) }
        try Data(bytes + data).write(to: URL(fileURLWithPath: path))
    }
}

/// A SentencePiece vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then `pieces` with
/// descending scores (the first piece scores highest).
private func vocabulary(_ pieces: [String]) -> (tokens: [String], scores: [Float], types: [Int32]) {
    let tokens = ["<unk>", "<s>", "</s>"] + (0..<256).map { String(format: "<0x%02X>", $0) } + pieces
    let scores = [Float](repeating: 0, count: 259) + pieces.indices.map { -Float($0) }
    let types: [Int32] = [2, 3, 3] + [Int32](repeating: 6, count: 256) + [Int32](repeating: 1, count: pieces.count)
    return (tokens, scores, types)
}

private func tokenizerEntries(_ gguf: inout GGUFBytes, pieces: [String], model: String) {
    let vocab = vocabulary(pieces)
    gguf.add("tokenizer.ggml.model", string: model)
    gguf.add("tokenizer.ggml.tokens", strings: vocab.tokens)
    gguf.add("tokenizer.ggml.scores", f32s: vocab.scores)
    gguf.add("tokenizer.ggml.token_type", i32s: vocab.types)
    gguf.add("tokenizer.ggml.bos_token_id", u32: 1)
    gguf.add("tokenizer.ggml.eos_token_id", u32: 2)
}

/// One tiny llama, as a Hugging Face folder (safetensors + config.json) and as the F32 GGUF
/// llama.cpp's converter would make of it (names mapped, q/k rows permuted so that rotary pairs
/// interleave).
private struct TinyLlama {
    static let pieces = ["▁the", "▁model", "▁quant", "▁a", "▁", "t", "h", "e", "m", "o", "d", "l", "q", "u", "a", "n"]
    static let vocabularySize = 259 + pieces.count + 5
    let hidden = 64, heads = 4, kvHeads = 2, ff = 96, layers = 2
    var headDimension: Int { hidden / heads }
    var tensors: [(hf: String, gguf: String, shape: [Int], values: [Float])] = []

    init(seed: UInt64 = 7) {
        let v = Self.vocabularySize
        func add(_ hf: String, _ gguf: String, _ shape: [Int], scale: Float, offset: Float = 0) {
            let values = pseudoRandomFloats(shape.reduce(1, *), seed: seed &+ UInt64(tensors.count) &* 31, scale: scale).map { $0 + offset }
            tensors.append((hf, gguf, shape, values))
        }
        let width = 1.7 / Float(hidden).squareRoot()
        add("model.embed_tokens.weight", "token_embd.weight", [v, hidden], scale: 1)
        for i in 0..<layers {
            let p = "model.layers.\(i).", g = "blk.\(i)."
            add(p + "input_layernorm.weight", g + "attn_norm.weight", [hidden], scale: 0.1, offset: 1)
            add(p + "self_attn.q_proj.weight", g + "attn_q.weight", [heads * headDimension, hidden], scale: width)
            add(p + "self_attn.k_proj.weight", g + "attn_k.weight", [kvHeads * headDimension, hidden], scale: width)
            add(p + "self_attn.v_proj.weight", g + "attn_v.weight", [kvHeads * headDimension, hidden], scale: width)
            add(p + "self_attn.o_proj.weight", g + "attn_output.weight", [hidden, heads * headDimension], scale: width)
            add(p + "post_attention_layernorm.weight", g + "ffn_norm.weight", [hidden], scale: 0.1, offset: 1)
            add(p + "mlp.gate_proj.weight", g + "ffn_gate.weight", [ff, hidden], scale: width)
            add(p + "mlp.up_proj.weight", g + "ffn_up.weight", [ff, hidden], scale: width)
            add(p + "mlp.down_proj.weight", g + "ffn_down.weight", [hidden, ff], scale: 1.7 / Float(ff).squareRoot())
        }
        add("model.norm.weight", "output_norm.weight", [hidden], scale: 0.1, offset: 1)
        add("lm_head.weight", "output.weight", [v, hidden], scale: width)
    }

    /// convert_hf_to_gguf.py's `permute`: rows `(head, half, pair)` from `(head, pair, half)`.
    func permuted(_ values: [Float], rows: Int, heads: Int) -> [Float] {
        let d = rows / heads, half = d / 2
        var out = values
        for h in 0..<heads {
            for j in 0..<half {
                for t in 0..<2 {
                    let to = (h * d + j * 2 + t) * hidden, from = (h * d + t * half + j) * hidden
                    out[to..<(to + hidden)] = values[from..<(from + hidden)]
                }
            }
        }
        return out
    }

    func writeFolder(_ folder: String, ropeScaling: String = "null") throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var fixture = SafeTensorsFixture()
        for tensor in tensors {
            fixture.tensors.append((tensor.hf, "F32", tensor.shape, tensor.values.withUnsafeBytes { Array($0) }))
        }
        try fixture.write(to: folder + "/model.safetensors")
        let config = """
            {"model_type": "llama", "vocab_size": \(Self.vocabularySize), "hidden_size": \(hidden), "intermediate_size": \(ff),
             "num_hidden_layers": \(layers), "num_attention_heads": \(heads), "num_key_value_heads": \(kvHeads),
             "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": \(ropeScaling), "tie_word_embeddings": false}
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: folder + "/config.json"))
    }

    func writeGGUF(_ path: String, ropeFreqs: [Float]? = nil, tokenizerModel: String = "llama") throws {
        var gguf = GGUFBytes()
        gguf.add("general.architecture", string: "llama")
        gguf.add("llama.context_length", u32: 256)
        gguf.add("llama.embedding_length", u32: UInt32(hidden))
        gguf.add("llama.block_count", u32: UInt32(layers))
        gguf.add("llama.feed_forward_length", u32: UInt32(ff))
        gguf.add("llama.rope.dimension_count", u32: UInt32(headDimension))
        gguf.add("llama.attention.head_count", u32: UInt32(heads))
        gguf.add("llama.attention.head_count_kv", u32: UInt32(kvHeads))
        gguf.add("llama.attention.layer_norm_rms_epsilon", f32: 1e-5)
        gguf.add("llama.rope.freq_base", f32: 10000)
        tokenizerEntries(&gguf, pieces: Self.pieces + (0..<5).map { "▁w\($0)" }, model: tokenizerModel)
        if let ropeFreqs { gguf.add(tensor: "rope_freqs.weight", shape: [ropeFreqs.count], ropeFreqs) }
        for tensor in tensors {
            var values = tensor.values
            if tensor.gguf.hasSuffix("attn_q.weight") { values = permuted(values, rows: tensor.shape[0], heads: heads) }
            if tensor.gguf.hasSuffix("attn_k.weight") { values = permuted(values, rows: tensor.shape[0], heads: kvHeads) }
            gguf.add(tensor: tensor.gguf, shape: tensor.shape, values)
        }
        try gguf.write(to: path)
    }
}

/// The worst over rows of max |a - b| / max |b|.
private func relativeError(_ a: FloatTensor, _ b: FloatTensor) -> Float {
    let width = b.shape.last!
    var worst: Float = 0
    for row in 0..<(b.storage.count / width) {
        let range = (row * width)..<((row + 1) * width)
        let scale = b.storage[range].map(abs).max()!
        let error = zip(a.storage[range], b.storage[range]).map { abs($0 - $1) }.max()!
        worst = max(worst, error / scale)
    }
    return worst
}

private func logits(_ model: LlamaModel, _ tokens: [Int32]) throws -> FloatTensor {
    var cache = model.makeCache()
    return try model.forward(tokens, cache: &cache, allLogits: true)
}

@Suite struct GGUFGenerateTests {
    static let prompt: [Int32] = [1, 259, 262, 270, 263, 5, 279, 277, 260, 266, 263, 271]

    /// The same weights as a Hugging Face folder and as an F32 GGUF (llama.cpp's names and q/k
    /// row order) give the same logits; the GGUF's Q8_0 copy (`convert --preset llama-quantize`)
    /// loads as QuantizedLinear per group of 32, computes exactly what float layers over its
    /// dequantized weights compute, and stays near the float model and our own per-group(32) INT8.
    @Test func ggufLoadsLikeTheSafetensorsModelInF32AndQ8_0() throws {
        let folder = temporaryFolder()
        let llama = TinyLlama()
        try llama.writeFolder(folder + "/hf")
        try llama.writeGGUF(folder + "/f32.gguf")
        let reference = try logits(try LlamaModelFiles(path: folder + "/hf").model, Self.prompt)

        let f32 = try LlamaModelFiles(path: folder + "/f32.gguf").model
        #expect(f32.linearLayers.allSatisfy { $0.layer is Linear })
        let f32Error = relativeError(try logits(f32, Self.prompt), reference)
        #expect(f32Error <= 1e-5, "F32 GGUF vs safetensors: \(f32Error)")

        let convert = try CLIRunner.run(["convert", folder + "/f32.gguf", "-o", folder + "/q8.gguf", "--preset", "llama-quantize", "--quiet"])
        #expect(convert.status == 0, "\(convert)")
        let q8 = try LlamaModelFiles(path: folder + "/q8.gguf").model
        for (path, layer) in q8.linearLayers {
            let quantized = layer as? QuantizedLinear
            #expect(quantized?.quantizedWeight?.scheme == .q8_0, "\(path) should be a Q8_0 QuantizedLinear")
        }
        let q8Logits = try logits(q8, Self.prompt)
        let source = try openTensorSource(at: folder + "/q8.gguf")
        let dequantized = try LlamaModel(configuration: q8.configuration, source: source, naming: .gguf) { try source.linear($0) }
        let sameMath = relativeError(q8Logits, try logits(dequantized, Self.prompt))
        #expect(sameMath <= 1e-5, "Q8_0 layers vs float layers over the dequantized weights: \(sameMath)")

        // Quantization error: Q8_0 (fp16 scales, round half away, embeddings and head quantized
        // too) against the float model and against our per-group(32) INT8 of the linear layers
        // (measured 0.016 and 0.0068; F32 GGUF vs safetensors 2.1e-7, Q8_0 vs dequantized 3.0e-7).
        let perGroup = try quantize(model: try LlamaModelFiles(path: folder + "/hf").model, granularity: .perGroup(size: 32))
        let toFloat = relativeError(q8Logits, reference)
        let toPerGroup = relativeError(q8Logits, try logits(perGroup, Self.prompt))
        #expect(toFloat <= 0.05, "Q8_0 vs fp32: \(toFloat)")
        #expect(toPerGroup <= 0.02, "Q8_0 vs per-group(32) INT8: \(toPerGroup)")
    }

    /// `swiftquant generate` on the GGUF: the prompt through the GGUF's tokenizer, and greedy
    /// tokens equal to the same model run from the Hugging Face folder.
    @Test func generateRunsOnAGGUFWithItsTokenizer() throws {
        let folder = temporaryFolder()
        let llama = TinyLlama(seed: 11)
        try llama.writeFolder(folder + "/hf")
        try llama.writeGGUF(folder + "/model.gguf")
        let ids = Self.prompt.map(String.init).joined(separator: ",")
        let hf = try CLIRunner.run(["generate", folder + "/hf", "--prompt-ids", ids, "--max-tokens", "12", "--json"])
        let gguf = try CLIRunner.run(["generate", folder + "/model.gguf", "--prompt-ids", ids, "--max-tokens", "12", "--json", "--ignore-eos"])
        #expect(hf.status == 0 && gguf.status == 0, "\(hf) \(gguf)")
        struct Report: Decodable { var prompt_tokens: [Int32]; var tokens: [Int32]; var text: String }
        let a = try JSONDecoder().decode(Report.self, from: Data(hf.stdout.utf8))
        let b = try JSONDecoder().decode(Report.self, from: Data(gguf.stdout.utf8))
        #expect(a.tokens == b.tokens)
        // "a quant" → ▁ a ▁ q u a n t; only "▁a" (id 262) is an entry made of two of them, and
        // "▁quant" cannot be reached through entries: BOS ▁a ▁ q u a n t.
        let text = try CLIRunner.run(["generate", folder + "/model.gguf", "--prompt", "a quant", "--max-tokens", "3", "--json", "--ignore-eos"])
        #expect(text.status == 0, "\(text)")
        let c = try JSONDecoder().decode(Report.self, from: Data(text.stdout.utf8))
        #expect(c.prompt_tokens == [1, 262, 263, 271, 272, 273, 274, 264])
        #expect(c.tokens.count == 3)

        // A tokenizer model not implemented (T5's Unigram): --prompt is refused in one line naming the key,
        // --prompt-ids still runs (with a warning) and gives the same tokens.
        try llama.writeGGUF(folder + "/bpe.gguf", tokenizerModel: "t5")
        let refused = try CLIRunner.run(["generate", folder + "/bpe.gguf", "--prompt", "a quant"])
        #expect(refused.status == 1)
        #expect(refused.stderrLines.count == 1 && refused.stderr.contains("tokenizer.ggml.model"), "\(refused)")
        let byIDs = try CLIRunner.run(["generate", folder + "/bpe.gguf", "--prompt-ids", ids, "--max-tokens", "12", "--json", "--ignore-eos"])
        #expect(byIDs.status == 0, "\(byIDs)")
        #expect(try JSONDecoder().decode(Report.self, from: Data(byIDs.stdout.utf8)).tokens == a.tokens)
        #expect(byIDs.stderr.contains("warning"))
    }

    /// `rope_freqs.weight` divides each pair's frequency as llama.cpp does: factors all 2 are
    /// linear scaling with factor 2 (checked against the folder's `rope_scaling`), and a tensor
    /// of the wrong size is refused naming it.
    @Test func ropeFreqsScaleTheRotaryFrequencies() throws {
        let folder = temporaryFolder()
        let llama = TinyLlama(seed: 5)
        try llama.writeFolder(folder + "/hf", ropeScaling: #"{"type": "linear", "factor": 2.0}"#)
        try llama.writeGGUF(folder + "/f.gguf", ropeFreqs: [Float](repeating: 2, count: llama.headDimension / 2))
        let reference = try logits(try LlamaModelFiles(path: folder + "/hf").model, Self.prompt)
        let scaled = relativeError(try logits(try LlamaModelFiles(path: folder + "/f.gguf").model, Self.prompt), reference)
        #expect(scaled <= 1e-5, "rope_freqs 2 vs linear factor 2: \(scaled)")
        try llama.writeGGUF(folder + "/plain.gguf")
        let unscaled = relativeError(try logits(try LlamaModelFiles(path: folder + "/plain.gguf").model, Self.prompt), reference)
        #expect(unscaled > 1e-3, "the factors must matter for this check to mean anything: \(unscaled)")

        let factors: [Double] = [1, 2, 4, 8, 1, 1, 3, 5]
        let rotary = RotaryEmbedding(dimension: 16, base: 10000, scaling: .frequencyFactors(factors))
        let plain = RotaryEmbedding(dimension: 16, base: 10000)
        #expect(rotary.frequencies == zip(plain.frequencies, factors).map { $0 / $1 })

        try llama.writeGGUF(folder + "/bad.gguf", ropeFreqs: [1, 2, 3])
        let error = #expect(throws: LlamaError.self) { _ = try LlamaModelFiles(path: folder + "/bad.gguf") }
        #expect(error?.description.contains("'rope_freqs.weight' has shape [3]") == true, "\(String(describing: error))")
        #expect(error?.description.contains("needs [8]") == true)
    }

    /// llama.cpp's SPM merge order, worked by hand: the pair whose merge is the higher-scored
    /// entry goes first, characters outside the vocabulary become byte tokens, spaces are ▁
    /// with one in front, and decoding drops that leading space again.
    @Test func sentencePieceMergesByScoreLikeLlamaCpp() throws {
        func tokenizer(_ pieces: [String]) throws -> SentencePieceTokenizer {
            let vocab = vocabulary(pieces)
            let metadata: [String: MetadataValue] = [
                "tokenizer.ggml.model": .string("llama"),
                "tokenizer.ggml.tokens": .array(vocab.tokens.map(MetadataValue.string)),
                "tokenizer.ggml.scores": .array(vocab.scores.map { .float(Double($0)) }),
                "tokenizer.ggml.token_type": .array(vocab.types.map { .int(Int64($0)) }),
            ]
            return try SentencePieceTokenizer(ggufMetadata: metadata, path: "t.gguf")
        }
        // "▁a" scores above "ab": ▁ a b → ▁a b; the other way round: ▁ ab.
        let first = try tokenizer(["▁a", "ab", "▁", "a", "b", "c"])
        #expect(first.encode("ab") == [1, 259, 263])
        let second = try tokenizer(["ab", "▁a", "▁", "a", "b", "c"])
        #expect(second.encode("ab") == [1, 261, 259])
        // "é" is not an entry: its two UTF-8 bytes; the space before "c" is ▁.
        #expect(first.encode("ab cé", addSpecialTokens: false) == [259, 263, 261, 264, 3 + 0xC3, 3 + 0xA9])
        // llama_detokenize keeps the leading space when it drops a leading BOS, strips it otherwise.
        #expect(first.decode([1, 259, 263, 261, 264, 3 + 0xC3, 3 + 0xA9], skipSpecialTokens: true) == " ab cé")
        #expect(first.decode([259, 263], skipSpecialTokens: true) == "ab")
        #expect(throws: TokenizerError.self) {
            try SentencePieceTokenizer(ggufMetadata: ["tokenizer.ggml.model": .string("gpt2")], path: "t.gguf")
        }
        // A byte-level vocabulary names its pre-tokenizer; one llama.cpp has but we do not is refused.
        #expect(throws: TokenizerError.self) {
            try loadTokenizer(ggufMetadata: ["tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.pre": .string("deepseek-llm"),
                                             "tokenizer.ggml.tokens": .array([.string("a")]), "tokenizer.ggml.merges": .array([])], path: "t.gguf")
        }
    }
}
