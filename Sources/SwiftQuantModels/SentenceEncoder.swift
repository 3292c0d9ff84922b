import Foundation
import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantNN

/// sentence-transformers' all-MiniLM-L6-v2 (or any BERT sentence model with mean pooling):
/// tokenize, encode, mean-pool over the tokens, L2-normalize.
///
/// ```swift
/// let fp32 = try SentenceEncoder(modelDirectory: "models/all-MiniLM-L6-v2")
/// let int8 = try SentenceEncoder(modelDirectory: "models/all-MiniLM-L6-v2", checkpoint: "minilm.swq")
/// let a = try fp32.embed("A man is playing a guitar.")    // 384 floats, unit length
/// let b = try int8.embed("A man is playing a guitar.")
/// print(cosineSimilarity(a, b))                             // ≈ 0.9995
/// ```
public struct SentenceEncoder: Sendable {
    /// Text to token ids.
    public let tokenizer: WordPieceTokenizer
    /// Token ids to hidden states.
    public let encoder: BertEncoder

    /// The tokenizer alone, truncating at the model's sequence limit, without loading weights.
    public static func tokenizer(modelDirectory: String) throws -> (String) -> [Int32] {
        let configuration = try BertConfiguration(modelDirectory: modelDirectory)
        let tokenizer = try WordPieceTokenizer(vocabularyFile: (modelDirectory as NSString).appendingPathComponent("vocab.txt"))
        return { tokenizer.encode($0, maxLength: configuration.maximumSequenceLength) }
    }

    /// An encoder with the given parts (for example `BertEncoder.quantized(granularity:)`).
    public init(tokenizer: WordPieceTokenizer, encoder: BertEncoder) {
        self.tokenizer = tokenizer
        self.encoder = encoder
    }

    /// The same encoder with int8 activations on every INT8 layer (W8A8; see
    /// ``BertEncoder/withActivationQuantization(_:groupSize:)``): faster, slightly further from fp32.
    /// `groupSize` is the number of input columns per activation scale (`nil`: one per row).
    public func withActivationQuantization(
        _ enabled: Bool = true, groupSize: Int? = BertEncoder.defaultActivationGroupSize
    ) throws -> SentenceEncoder {
        SentenceEncoder(tokenizer: tokenizer, encoder: try encoder.withActivationQuantization(enabled, groupSize: groupSize))
    }

    /// The token ids the model sees for `sentence`, truncated to the model's sequence limit.
    public func tokenIDs(_ sentence: String) -> [Int32] {
        tokenizer.encode(sentence, maxLength: encoder.configuration.maximumSequenceLength)
    }

    /// The sentence embedding: the mean of the last hidden states, L2-normalized.
    public func embed(_ sentence: String) throws -> [Float] {
        let hidden = try encoder.hiddenStates(ids: tokenIDs(sentence))
        let n = hidden.shape[0], h = hidden.shape[1]
        var pooled = [Double](repeating: 0, count: h)
        for t in 0..<n {
            for j in 0..<h { pooled[j] += Double(hidden.storage[t * h + j]) }
        }
        var norm = 0.0
        for j in 0..<h {
            pooled[j] /= Double(n)
            norm += pooled[j] * pooled[j]
        }
        // sentence-transformers' Normalize clamps the norm at 1e-12.
        let scale = 1 / max(norm.squareRoot(), 1e-12)
        return pooled.map { Float($0 * scale) }
    }
}

/// `a · b / (|a| |b|)`, in Double; 0 when either vector is zero.
public func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var dot = 0.0, aa = 0.0, bb = 0.0
    for i in 0..<a.count {
        dot += Double(a[i]) * Double(b[i])
        aa += Double(a[i]) * Double(a[i])
        bb += Double(b[i]) * Double(b[i])
    }
    let denominator = (aa * bb).squareRoot()
    return denominator > 0 ? dot / denominator : 0
}
