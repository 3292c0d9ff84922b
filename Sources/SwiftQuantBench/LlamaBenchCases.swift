import Foundation
import SwiftQuant

/// A ~100M-parameter random llama (hidden 768, 12 layers, 12 query / 4 key-value heads, MLP
/// 2048, vocabulary 32000, tied head), built in code: decode and prompt tokens per second,
/// INT8 (every linear layer per channel, head included, as llama.cpp's Q8_0 does) against
/// fp32, timed round-robin in the same run.
extension BenchCase {
    static let llamaCases: [BenchCase] = [
        BenchCase(
            name: "llama-100m-decode",
            summary: "Random ~100M llama: batch-1 decode tokens/s after a 32-token prompt (32 steps), INT8 vs fp32."
        ) { context in
            let (float, int8) = try llamaBenchModels()
            let steps = 32
            let prompt = (0..<32).map { Int32($0 * 97 % 32000) }
            func decode(_ model: LlamaModel, _ prefilled: LlamaCache) -> () -> Void {
                {
                    var cache = prefilled
                    var token: Int32 = 7
                    for _ in 0..<steps {
                        let logits = (try? model.forward([token], cache: &cache))?.storage ?? [0]
                        token = Int32(logits.indices.max { logits[$0] < logits[$1] } ?? 0)
                    }
                }
            }
            var floatCache = float.makeCache(capacity: 64), int8Cache = int8.makeCache(capacity: 64)
            _ = try float.forward(prompt, cache: &floatCache)
            _ = try int8.forward(prompt, cache: &int8Cache)
            let (int8Seconds, floatSeconds) = context.medians(decode(int8, int8Cache), decode(float, floatCache))
            return BenchResult(medianSeconds: int8Seconds, fields: llamaFields(float: float, int8: int8) + [
                ("decode_tokens_per_second_int8", .number(Double(steps) / int8Seconds)),
                ("decode_tokens_per_second_fp32", .number(Double(steps) / floatSeconds)),
                ("ratio_to_fp32", .number(int8Seconds / floatSeconds)),
            ])
        },
        BenchCase(
            name: "llama-100m-prompt-128",
            summary: "Random ~100M llama: one 128-token prompt pass, prompt tokens/s, INT8 vs fp32."
        ) { context in
            let (float, int8) = try llamaBenchModels()
            let prompt = (0..<128).map { Int32($0 * 131 % 32000) }
            func run(_ model: LlamaModel) -> () -> Void {
                { var cache = model.makeCache(capacity: 128); _ = try? model.forward(prompt, cache: &cache) }
            }
            let (int8Seconds, floatSeconds) = context.medians(run(int8), run(float))
            return BenchResult(medianSeconds: int8Seconds, fields: llamaFields(float: float, int8: int8) + [
                ("prompt_tokens_per_second_int8", .number(128 / int8Seconds)),
                ("prompt_tokens_per_second_fp32", .number(128 / floatSeconds)),
                ("ratio_to_fp32", .number(int8Seconds / floatSeconds)),
            ])
        },
    ]

    static func llamaBenchModels() throws -> (float: LlamaModel, int8: LlamaModel) {
        let configuration = LlamaConfiguration(
            vocabularySize: 32000, hiddenSize: 768, intermediateSize: 2048, layerCount: 12, headCount: 12,
            kvHeadCount: 4, rmsNormEpsilon: 1e-5, ropeTheta: 10000, tieWordEmbeddings: true)
        let float = try LlamaModel.random(configuration: configuration, seed: 1)
        return (float, try quantize(model: float))
    }

    static func llamaFields(float: LlamaModel, int8: LlamaModel) -> [(key: String, value: BenchValue)] {
        let c = float.configuration
        let parameters = c.vocabularySize * c.hiddenSize + float.linearLayers.dropLast().reduce(0) { $0 + $1.layer.inFeatures * $1.layer.outFeatures }
        return [("parameters", .integer(parameters)), ("threads", .integer(Parallelism.threads))]
    }
}
