import SwiftQuantCore

/// Why a Hugging Face model folder cannot be converted to GGUF the way llama.cpp's
/// `convert_hf_to_gguf.py` converts it. Each case names the file (and key or tensor) and
/// what to do; `description` is one line.
public enum HuggingFaceGGUFError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `config.json`'s `architectures[0]` has no GGUF mapping.
    case unsupportedArchitecture(config: String, architecture: String, supported: [String])
    /// `config.json` has no `architectures` list naming the model class.
    case noArchitecture(config: String)
    /// A key the architecture needs is missing from `config.json`.
    case missingKey(file: String, key: String)
    /// A key holds a value of the wrong type or range.
    case invalidValue(file: String, key: String, expected: String)
    /// A file is not valid JSON (or not a JSON object).
    case unreadableFile(path: String, reason: String)
    /// A tensor the architecture has no GGUF name for (llama.cpp's converter stops there too).
    case unmappedTensor(input: String, tensor: String, architecture: String)
    /// A tensor whose shape does not fit the architecture's hyperparameters.
    case tensorShape(tensor: String, shape: [Int], reason: String)
    /// No tokenizer file llama.cpp's converter reads for this architecture.
    case missingTokenizer(folder: String, expected: String)
    /// A tokenizer of a kind the converter does not write for this architecture.
    case unsupportedTokenizer(path: String, reason: String)
    /// A byte-level BPE pre-tokenizer whose llama.cpp `tokenizer.ggml.pre` name is not known.
    case unknownPreTokenizer(path: String, found: String)
    /// A RoPE scaling type the converter does not write for this architecture.
    case unsupportedRopeScaling(config: String, type: String)
    /// A model feature SwiftQuant's mapping does not convert (mixture of experts, …).
    case unsupportedFeature(config: String, feature: String)

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let config, let architecture, let supported):
            "\(config): architecture '\(printableInMessage(architecture))' has no GGUF mapping in SwiftQuant (supported: \(supported.joined(separator: ", "))); convert it with llama.cpp's convert_hf_to_gguf.py, or name the architecture to write the tensors under their Hugging Face names"
        case .noArchitecture(let config):
            "\(config): no 'architectures' list naming the model class (e.g. LlamaForCausalLM); add it, or name the architecture to write the tensors under their Hugging Face names"
        case .missingKey(let file, let key):
            "\(file): missing '\(printableInMessage(key))', which the GGUF conversion needs; add it from the model's original config"
        case .invalidValue(let file, let key, let expected):
            "\(file): '\(printableInMessage(key))' is not \(expected); fix the file"
        case .unreadableFile(let path, let reason):
            "\(path): \(reason); fix or replace the file"
        case .unmappedTensor(let input, let tensor, let architecture):
            "\(input): tensor '\(printableInMessage(tensor))' has no GGUF name for \(architecture) (llama.cpp's converter refuses it too); remove it from the checkpoint or convert to another format"
        case .tensorShape(let tensor, let shape, let reason):
            "tensor '\(printableInMessage(tensor))' has shape \(shape): \(reason); check config.json against the weights"
        case .missingTokenizer(let folder, let expected):
            "\(folder): no tokenizer (\(expected)); llama.cpp needs one in the GGUF file: copy the model's tokenizer files beside config.json"
        case .unsupportedTokenizer(let path, let reason):
            "\(path): \(reason); convert this model with llama.cpp's convert_hf_to_gguf.py"
        case .unknownPreTokenizer(let path, let found):
            "\(path): pre-tokenizer \(printableInMessage(found)) is not one SwiftQuant can name for llama.cpp (known: GPT-2 byte-level, Llama 3 'llama-bpe', Qwen2 'qwen2'); convert this model with llama.cpp's convert_hf_to_gguf.py"
        case .unsupportedFeature(let config, let feature):
            "\(config): \(feature) is not converted to GGUF by SwiftQuant; convert this model with llama.cpp's convert_hf_to_gguf.py"
        case .unsupportedRopeScaling(let config, let type):
            "\(config): RoPE scaling type '\(printableInMessage(type))' is not converted by SwiftQuant (linear, yarn and llama3 are); convert this model with llama.cpp's convert_hf_to_gguf.py"
        }
    }
}
