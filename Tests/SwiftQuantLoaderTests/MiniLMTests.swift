import Foundation
import Testing
import SwiftQuant

/// The real all-MiniLM-L6-v2: load, embed, and compare fp32 with in-memory INT8.
/// (The numpy reference comparison, 1e-4 max abs, is Tests/Interop/check_minilm.py.)
@Suite("MiniLM on the real model")
struct MiniLMTests {
    static let encoder = Result { try SentenceEncoder(modelDirectory: miniLMDirectory) }

    @Test("Embeddings are 384 unit-length values, and similar sentences are closer than unrelated ones")
    func smoke() throws {
        let encoder = try Self.encoder.get()
        #expect(encoder.encoder.configuration.hiddenSize == 384)
        #expect(encoder.encoder.configuration.maximumSequenceLength == 256)
        let guitar = try encoder.embed("A man is playing a guitar.")
        let music = try encoder.embed("Someone is playing an instrument.")
        let market = try encoder.embed("The stock market fell sharply today.")
        #expect(guitar.count == 384)
        let norm = guitar.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(norm - 1) < 1e-5)
        #expect(cosineSimilarity(guitar, music) > cosineSimilarity(guitar, market) + 0.2)
        // The token ids the model saw: [CLS] a man is playing a guitar . [SEP].
        #expect(encoder.tokenIDs("A man is playing a guitar.") == [101, 1037, 2158, 2003, 2652, 1037, 2858, 1012, 102])
    }

    @Test("In-memory per-channel INT8 stays within cosine 0.999 of fp32 on an ordinary sentence")
    func quantizedEncoder() throws {
        let float = try Self.encoder.get()
        let int8 = SentenceEncoder(tokenizer: float.tokenizer, encoder: try float.encoder.quantized())
        #expect(int8.encoder.linearLayers.count == 36)
        #expect(int8.encoder.linearLayers.allSatisfy { $0 is QuantizedLinear })
        let sentence = "The committee approved the revised budget for next year's research programme."
        #expect(cosineSimilarity(try float.embed(sentence), try int8.embed(sentence)) > 0.999)
    }

    @Test("A folder that is not a model gives a one-line error")
    func badFolder() {
        #expect(throws: MiniLMError.cannotRead(path: "/nonexistent/config.json", what: "the BERT config.json")) {
            try SentenceEncoder(modelDirectory: "/nonexistent")
        }
    }
}
