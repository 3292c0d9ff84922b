import Foundation
import SwiftQuant

/// all-MiniLM-L6-v2 end to end (tokenize, encode, pool): the per-channel INT8 encoder against
/// the fp32 one, timed round-robin in the same run. The model folder is `$SWIFTQUANT_MINILM`,
/// else found in the models folder by ``BenchContext/modelFolder(_:)``.
extension BenchCase {
    static let miniLMCases: [BenchCase] = [
        miniLMCase(words: 8, name: "minilm-int8-short"),
        miniLMCase(words: 120, name: "minilm-int8-128-tokens"),
        miniLMCase(words: 8, name: "minilm-w8a8-short", activations: true),
        miniLMCase(words: 120, name: "minilm-w8a8-128-tokens", activations: true),
        miniLMFloatCase(words: 120, name: "minilm-fp32-128-tokens"),
    ]

    /// The fp32 encoder alone (its cosine to fp32 is 1 by definition, reported for uniformity).
    static func miniLMFloatCase(words: Int, name: String) -> BenchCase {
        BenchCase(name: name, summary: "all-MiniLM-L6-v2 sentence embedding, \(words) words, fp32 (the baseline of the INT8 cases).") { context in
            let float = try SentenceEncoder(modelDirectory: miniLMBenchDirectory(context))
            let sentence = miniLMBenchSentence(words: words)
            let seconds = context.median { _ = try? float.embed(sentence) }
            return BenchResult(medianSeconds: seconds, fields: [
                ("tokens", .integer(float.tokenIDs(sentence).count)),
                ("cosine_to_fp32", .number(cosineSimilarity(try float.embed(sentence), try float.embed(sentence)))),
                ("threads", .integer(Parallelism.threads)),
            ])
        }
    }

    static func miniLMBenchSentence(words: Int) -> String {
        let vocabulary = ["the", "model", "runs", "quickly", "on", "two", "cores", "while", "weights", "stay", "small"]
        return (0..<words).map { vocabulary[$0 % vocabulary.count] }.joined(separator: " ")
    }

    static func miniLMCase(words: Int, name: String, activations: Bool = false) -> BenchCase {
        BenchCase(
            name: name,
            summary: "all-MiniLM-L6-v2 sentence embedding, \(words) words: INT8 \(activations ? "W8A8 (int8 activations too, one scale per \(BertEncoder.defaultActivationGroupSize) columns)" : "weight-only") (per channel, in memory) vs fp32, ratio and cosine."
        ) { context in
            let float = try SentenceEncoder(modelDirectory: miniLMBenchDirectory(context))
            let int8 = SentenceEncoder(
                tokenizer: float.tokenizer, encoder: try float.encoder.quantized(quantizesActivations: activations))
            let sentence = miniLMBenchSentence(words: words)
            let (int8Seconds, floatSeconds) = context.medians(
                { _ = try? int8.embed(sentence) }, { _ = try? float.embed(sentence) })
            let cosine = cosineSimilarity(try int8.embed(sentence), try float.embed(sentence))
            let linearBytes = { (encoder: BertEncoder) in
                encoder.linearLayers.reduce(0) { total, layer in
                    if let q = layer as? QuantizedLinear { return total + q.inFeatures * q.outFeatures + 4 * q.scales.count }
                    return total + 4 * layer.inFeatures * layer.outFeatures
                }
            }
            return BenchResult(medianSeconds: int8Seconds, fields: [
                ("tokens", .integer(float.tokenIDs(sentence).count)),
                ("fp32_median_seconds", .number(floatSeconds)),
                ("ratio_to_fp32", .number(int8Seconds / floatSeconds)),
                ("cosine_to_fp32", .number(cosine)),
                ("activation_group_size", .integer(activations ? BertEncoder.defaultActivationGroupSize : 0)),
                ("linear_weight_bytes_int8", .integer(linearBytes(int8.encoder))),
                ("linear_weight_bytes_fp32", .integer(linearBytes(float.encoder))),
                ("threads", .integer(Parallelism.threads)),
            ])
        }
    }

    static func miniLMBenchDirectory(_ context: BenchContext) throws -> String {
        if let path = ProcessInfo.processInfo.environment["SWIFTQUANT_MINILM"], !path.isEmpty { return path }
        return try context.modelFolder("all-MiniLM-L6-v2")
    }
}

extension BenchContext {
    /// The folder of model `name`, by the rule the tests use, read from the run (never from
    /// where the sources were compiled, which an installed binary does not have):
    /// ``modelsFolder`` when given, else `$SWIFTQUANT_MODELS` when set and not empty, else
    /// `../shared/models` then `.cache/models` (which `Tests/setup.sh` fills) relative to the
    /// current directory, i.e. run from the repository's root.
    ///
    /// - Throws: ``BenchError/modelMissing(name:searched:)`` when no candidate holds the model.
    package func modelFolder(_ name: String) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let candidates: [(folder: String, explicit: Bool)]
        if let modelsFolder {
            candidates = [(modelsFolder, true)]
        } else if let models = environment["SWIFTQUANT_MODELS"], !models.isEmpty {
            candidates = [(models, true)]
        } else {
            let current = FileManager.default.currentDirectoryPath
            candidates = [
                (URL(fileURLWithPath: current).deletingLastPathComponent().appendingPathComponent("shared/models").path, false),
                (current + "/.cache/models", false),
            ]
        }
        for candidate in candidates {
            let folder = candidate.folder + "/" + name
            if FileManager.default.fileExists(atPath: folder + "/model.safetensors") { return folder }
            // An explicit folder without the model is reported, not quietly replaced.
            if candidate.explicit { break }
        }
        throw BenchError.modelMissing(name: name, searched: candidates.map { $0.folder + "/" + name })
    }
}

/// A bench case that cannot run.
package enum BenchError: Error, Equatable, CustomStringConvertible {
    /// The model a case needs is in none of the folders searched.
    case modelMissing(name: String, searched: [String])

    package var description: String {
        switch self {
        case .modelMissing(let name, let searched):
            "model \(name) not found (looked in \(searched.joined(separator: ", "))); set SWIFTQUANT_MODELS to a folder that holds it, or run `bash Tests/setup.sh` in the repository"
        }
    }
}
