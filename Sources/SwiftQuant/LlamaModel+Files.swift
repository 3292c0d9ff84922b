import Foundation
import SwiftQuantCheckpoint
import SwiftQuantConversion
import SwiftQuantCore
import SwiftQuantGGUF
import SwiftQuantModels
import SwiftQuantNN

/// A llama-family model opened from files, with the tokenizer files that came with it.
public struct LlamaModelFiles: Sendable {
    /// The decoder.
    public var model: LlamaModel
    /// `tokenizer.json` (a Hugging Face folder, or a `.swq` converted from one), if any.
    public var tokenizerJSON: Data?
    /// `tokenizer_config.json`, if any.
    public var tokenizerConfigJSON: Data?
    /// `generation_config.json`, if any (stop tokens: `eos_token_id`).
    public var generationConfigJSON: Data?
    /// A GGUF file's metadata (its `tokenizer.ggml.*` keys hold the tokenizer), or `nil` for other formats.
    public var ggufMetadata: [String: MetadataValue]?

    /// The metadata keys under which `swiftquant convert` stores a Hugging Face folder's files
    /// in a checkpoint (see Specs/swiftquant-checkpoint.md).
    public static let embeddedFileKeys = ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"]

    /// Opens `path`: a Hugging Face folder (`config.json` and safetensors, float layers), a
    /// SwiftQuant checkpoint converted from one (its INT8 layers run as `QuantizedLinear`,
    /// zero-copy when stored uncompressed), or a GGUF file (`<arch>.*` keys, llama.cpp names;
    /// its Q8_0 layers run as `QuantizedLinear` per group of 32, its float ones as `Linear`, and
    /// `rope_freqs.weight` scales the rotary frequencies as llama.cpp does).
    public init(path: String) throws {
        let source = try openTensorSource(at: path)
        func embedded(_ name: String) -> Data? {
            if case .string(let text)? = source.metadata["hf." + name] { return Data(text.utf8) }
            return nil
        }
        if isDirectory(path) {
            let folder = URL(fileURLWithPath: path)
            func file(_ name: String) -> Data? { try? Data(contentsOf: folder.appendingPathComponent(name)) }
            guard let config = file("config.json") else {
                throw LlamaError.invalidConfiguration(source: path, reason: "the folder has no config.json")
            }
            let configuration = try LlamaConfiguration(configJSON: config, source: path + "/config.json")
            model = try LlamaModel(configuration: configuration, source: source) { try source.linear($0) }
            tokenizerJSON = file("tokenizer.json")
            tokenizerConfigJSON = file("tokenizer_config.json")
            generationConfigJSON = file("generation_config.json")
        } else if let checkpoint = source as? CheckpointFile {
            guard let config = embedded("config.json") else {
                throw LlamaError.invalidConfiguration(
                    source: path, reason: "the checkpoint carries no config.json (metadata key 'hf.config.json'); convert it from a Hugging Face folder")
            }
            let configuration = try LlamaConfiguration(configJSON: config, source: path + " (hf.config.json)")
            model = try LlamaModel(configuration: configuration, source: checkpoint) { try checkpoint.linearLayer($0) }
            tokenizerJSON = embedded("tokenizer.json")
            tokenizerConfigJSON = embedded("tokenizer_config.json")
            generationConfigJSON = embedded("generation_config.json")
        } else if source is GGUFFile {
            let configuration = try LlamaConfiguration(
                ggufMetadata: source.metadata, vocabularySize: source.info(for: "token_embd.weight")?.shape.first, source: path)
            // Q8_0 codes are copied out of their interleaved blocks, and the embedding is always
            // copied: their mapped pages are not read again, so they leave the resident set as
            // soon as they are copied (F32 layers read the map in place and keep theirs).
            model = try LlamaModel(configuration: configuration, source: source, naming: .gguf) { name in
                let layer = try source.linearLayer(name)
                if layer is QuantizedLinear { source.releasePages(for: name + ".weight") }
                return layer
            }
            source.releasePages(for: "token_embd.weight")
            ggufMetadata = source.metadata
        } else {
            throw LlamaError.invalidConfiguration(
                source: path, reason: "a single safetensors file has no config.json; give the model's folder")
        }
    }

    /// The model's tokenizer: from `tokenizer.json`, or from a GGUF file's `tokenizer.ggml.*`
    /// keys (`loadTokenizer(ggufMetadata:path:)`); `nil` when the model carries neither.
    ///
    /// - Throws: `TokenizerError` when the tokenizer is malformed or of a kind not implemented.
    public func tokenizer(path: String) throws -> (any Tokenizer)? {
        if let tokenizerJSON { return try loadTokenizer(json: tokenizerJSON, path: path + " (tokenizer.json)") }
        if let ggufMetadata, ggufMetadata["tokenizer.ggml.model"] != nil {
            return try loadTokenizer(ggufMetadata: ggufMetadata, path: path)
        }
        return nil
    }

    /// The end-of-sequence ids: `eos_token_id` from `generation_config.json` (a number or a
    /// list), or a GGUF file's `tokenizer.ggml.eos_token_id` and `eot_token_id`.
    public var stopTokens: Set<Int32> {
        if let ggufMetadata {
            var ids: Set<Int32> = []
            for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"] {
                switch ggufMetadata[key] {
                case .uint(let id)?: ids.insert(Int32(truncatingIfNeeded: id))
                case .int(let id)?: ids.insert(Int32(truncatingIfNeeded: id))
                default: break
                }
            }
            return ids
        }
        guard let data = generationConfigJSON,
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return [] }
        if let id = object["eos_token_id"] as? Int { return [Int32(truncatingIfNeeded: id)] }
        if let ids = object["eos_token_id"] as? [Int] { return Set(ids.map { Int32(truncatingIfNeeded: $0) }) }
        return []
    }
}
