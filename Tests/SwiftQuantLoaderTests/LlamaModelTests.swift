import Foundation
import Testing
import SwiftQuant

@Suite struct LlamaModelTests {
    static let configuration = LlamaConfiguration(
        vocabularySize: 97, hiddenSize: 32, intermediateSize: 80, layerCount: 2, headCount: 4, kvHeadCount: 2,
        rmsNormEpsilon: 1e-5, ropeTheta: 10000)

    @Test func promptPassEqualsDecodeThroughTheCache() throws {
        for tied in [false, true] {
            var configuration = Self.configuration
            configuration.tieWordEmbeddings = tied
            configuration.attentionBias = tied
            let model = try LlamaModel.random(configuration: configuration, seed: 3)
            let tokens: [Int32] = [5, 17, 3, 96, 0, 44, 44, 12]
            var cache = model.makeCache(capacity: 2)
            let all = try model.forward(tokens, cache: &cache, allLogits: true)
            #expect(all.shape == [tokens.count, 97])
            #expect(cache.count == tokens.count)
            var stepCache = model.makeCache(capacity: 1)
            for (index, token) in tokens.enumerated() {
                let row = try model.forward([token], cache: &stepCache)
                let expected = all.storage[(index * 97)..<((index + 1) * 97)]
                let scale = expected.map(abs).max() ?? 1
                for (a, b) in zip(row.storage, expected) { #expect(abs(a - b) <= 1e-5 * scale) }
            }
        }
    }

    @Test func outOfRangeTokensAndEmptyPromptsThrow() throws {
        let model = try LlamaModel.random(configuration: Self.configuration)
        var cache = model.makeCache()
        #expect(throws: LlamaError.tokenOutOfRange(token: 97, vocabularySize: 97)) { try model.forward([97], cache: &cache) }
        #expect(throws: LlamaError.emptyPrompt) { try model.generate(prompt: [], maxTokens: 4) }
    }

    @Test func samplingIsDeterministicForASeed() throws {
        let model = try LlamaModel.random(configuration: Self.configuration, seed: 1)
        let sampled = SamplingParameters(temperature: 1.5, topK: 40, topP: 0.95, seed: 42)
        let a = try model.generate(prompt: [1, 2, 3], maxTokens: 24, sampling: sampled).tokens
        let b = try model.generate(prompt: [1, 2, 3], maxTokens: 24, sampling: sampled).tokens
        #expect(a == b)
        #expect(a.count == 24)
        var other = sampled
        other.seed = 43
        #expect(try model.generate(prompt: [1, 2, 3], maxTokens: 24, sampling: other).tokens != a)
        // top-k 1 and a tiny top-p both reduce to greedy.
        let greedy = try model.generate(prompt: [1, 2, 3], maxTokens: 12).tokens
        #expect(try model.generate(prompt: [1, 2, 3], maxTokens: 12, sampling: .init(temperature: 2, topK: 1, seed: 9)).tokens == greedy)
        #expect(try model.generate(prompt: [1, 2, 3], maxTokens: 12, sampling: .init(temperature: 0.8, topP: 1e-6, seed: 9)).tokens == greedy)
        // Greedy is the arg-max of the logits.
        var cache = model.makeCache()
        let logits = try model.forward([1, 2, 3], cache: &cache).storage
        #expect(greedy[0] == Int32(logits.indices.max { logits[$0] < logits[$1] }!))
        #expect(throws: LlamaError.self) { try TokenSampler(.init(temperature: -1)) }
        #expect(throws: LlamaError.self) { try TokenSampler(.init(topP: 0)) }
    }

    @Test func stopTokensAndStreamingCallbackEndGeneration() throws {
        let model = try LlamaModel.random(configuration: Self.configuration, seed: 2)
        let free = try model.generate(prompt: [4, 5], maxTokens: 10).tokens
        let stopped = try model.generate(prompt: [4, 5], maxTokens: 10, stopTokens: [free[2]]).tokens
        #expect(stopped == Array(free[...(free.firstIndex(of: free[2])!)]))
        var streamed: [Int32] = []
        let result = try model.generate(prompt: [4, 5], maxTokens: 10) { streamed.append($0); return streamed.count < 4 }
        #expect(streamed == Array(free.prefix(4)))
        #expect(result.tokens == streamed)
    }

    /// W8A8 is opt-in per model: every INT8 layer switches, float layers stay, turning it off
    /// again gives the weight-only logits bit for bit, and the W8A8 logits stay near the float ones.
    @Test func activationQuantizationSwitchesEveryInt8Layer() throws {
        let model = try LlamaModel.random(configuration: Self.configuration, seed: 6)
        let int8 = try quantize(model: model) { path, _ in !path.hasSuffix("lm_head") }
        let w8a8 = try int8.withActivationQuantization()
        for (path, layer) in w8a8.linearLayers {
            if let quantized = layer as? QuantizedLinear { #expect(quantized.quantizesActivations, "\(path)") }
            else { #expect(path.hasSuffix("lm_head")) }
        }
        let tokens: [Int32] = [3, 9, 27, 81, 50]
        func logits(_ m: LlamaModel) throws -> [Float] {
            var cache = m.makeCache()
            return try m.forward(tokens, cache: &cache, allLogits: true).storage
        }
        let (reference, weightOnly, activations) = (try logits(model), try logits(int8), try logits(w8a8))
        #expect(try logits(try w8a8.withActivationQuantization(false)) == weightOnly)
        let scale = reference.map(abs).max()!
        let error = zip(reference, activations).map { abs($0 - $1) }.max()!
        #expect(error / scale < 0.05 && activations != weightOnly, "max |Δ| \(error) of \(scale)")
    }

    @Test func quantizeFollowsTheFilter() throws {
        let model = try LlamaModel.random(configuration: Self.configuration, seed: 4)
        let int8 = try quantize(model: model) { path, _ in !path.hasSuffix("lm_head") && !path.contains("mlp.down") }
        for (path, layer) in int8.linearLayers {
            let expectQuantized = !path.hasSuffix("lm_head") && !path.contains("mlp.down")
            #expect((layer is QuantizedLinear) == expectQuantized, "\(path)")
        }
        var a = model.makeCache(), b = int8.makeCache()
        let reference = try model.forward([3, 9, 27], cache: &a).storage
        let quantized = try int8.forward([3, 9, 27], cache: &b).storage
        let scale = reference.map(abs).max()!
        let error = zip(reference, quantized).map { abs($0 - $1) }.max()!
        #expect(error / scale < 0.05)
        #expect(error > 0)
    }

    @Test func configurationFromConfigJSON() throws {
        let json = """
            {"model_type": "qwen2", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
             "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 2, "rms_norm_eps": 1e-6,
             "rope_theta": 1000000.0, "rope_scaling": null, "tie_word_embeddings": true, "sliding_window": 4096,
             "use_sliding_window": false, "hidden_act": "silu"}
            """
        let c = try LlamaConfiguration(configJSON: Data(json.utf8), source: "config.json")
        #expect(c.headDimension == 8 && c.kvHeadCount == 2 && c.attentionBias && c.tieWordEmbeddings && c.slidingWindow == nil)
        #expect(c.ropeTheta == 1e6)
        let llama3 = json.replacingOccurrences(of: "\"rope_scaling\": null", with: """
            "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
            """)
        #expect(try LlamaConfiguration(configJSON: Data(llama3.utf8), source: "c").ropeScaling
                == .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 8192))
        let dynamic = json.replacingOccurrences(of: "\"rope_scaling\": null", with: "\"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2.0}")
        do {
            _ = try LlamaConfiguration(configJSON: Data(dynamic.utf8), source: "config.json")
            Issue.record("dynamic rope scaling was accepted")
        } catch {
            #expect(error.description.contains("'dynamic' is not supported"))
            #expect(!error.description.contains("\n"))
        }
        let gpt2 = json.replacingOccurrences(of: "\"qwen2\"", with: "\"gpt2\"")
        #expect(throws: LlamaError.self) { try LlamaConfiguration(configJSON: Data(gpt2.utf8), source: "c") }
    }

    @Test func configurationFromGGUFKeys() throws {
        let metadata: [String: MetadataValue] = [
            "general.architecture": .string("llama"), "llama.embedding_length": .uint(64), "llama.block_count": .uint(2),
            "llama.feed_forward_length": .uint(160), "llama.attention.head_count": .uint(8),
            "llama.attention.head_count_kv": .uint(4), "llama.attention.layer_norm_rms_epsilon": .float(1e-5),
            "llama.rope.freq_base": .float(500000), "llama.context_length": .uint(4096), "llama.rope.dimension_count": .uint(8),
        ]
        let c = try LlamaConfiguration(ggufMetadata: metadata, vocabularySize: 320, source: "m.gguf")
        #expect(c.vocabularySize == 320 && c.hiddenSize == 64 && c.kvHeadCount == 4 && c.headDimension == 8 && c.ropeTheta == 500000)
        var missing = metadata
        missing["llama.block_count"] = nil
        #expect(throws: LlamaError.self) { try LlamaConfiguration(ggufMetadata: missing, vocabularySize: 320, source: "m.gguf") }
    }
}
