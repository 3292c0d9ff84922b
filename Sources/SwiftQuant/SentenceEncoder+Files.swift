import Foundation
import SwiftQuantCheckpoint
import SwiftQuantConversion
import SwiftQuantCore
import SwiftQuantModels
import SwiftQuantNN

extension SentenceEncoder {
    /// Loads the tokenizer and configuration from `modelDirectory`, and the weights from its
    /// `model.safetensors` (Float32 layers) or, when `checkpoint` is given, from a SwiftQuant
    /// checkpoint (every quantized linear layer becomes a `QuantizedLinear`;
    /// embeddings and norms load as the float tensors the checkpoint keeps).
    public init(modelDirectory: String, checkpoint: String? = nil) throws {
        let configuration = try BertConfiguration(modelDirectory: modelDirectory)
        let tokenizer = try WordPieceTokenizer(vocabularyFile: (modelDirectory as NSString).appendingPathComponent("vocab.txt"))
        guard tokenizer.vocabularySize <= configuration.vocabularySize else {
            throw MiniLMError.invalidConfiguration(
                path: modelDirectory,
                reason: "vocab.txt has \(tokenizer.vocabularySize) tokens but config.json's vocab_size is \(configuration.vocabularySize)")
        }
        let encoder: BertEncoder
        if let checkpoint {
            let file = try CheckpointFile(path: checkpoint)
            encoder = try BertEncoder(configuration: configuration, source: file) { try file.linearLayer($0) }
        } else {
            let weightsPath = (modelDirectory as NSString).appendingPathComponent("model.safetensors")
            guard FileManager.default.fileExists(atPath: weightsPath) else {
                throw MiniLMError.cannotRead(path: weightsPath, what: "the model weights")
            }
            let source = try openTensorSource(at: weightsPath)
            encoder = try BertEncoder(configuration: configuration, source: source) { try source.linear($0) }
        }
        self.init(tokenizer: tokenizer, encoder: encoder)
    }
}
