import Foundation
import SwiftQuantCore

/// A Hugging Face model folder: its `config.json` (with `text_config` lifted to the top, as
/// llama.cpp's converter does) and the model class named by `architectures[0]`.
public struct HuggingFaceFolder: Sendable {
    /// The folder.
    public let path: String
    /// `config.json`.
    public let config: HuggingFaceJSON
    /// `architectures[0]`: the model class, which decides the mapping (not `model_type`).
    public let architecture: String

    /// Reads `config.json` in `path`; `nil` when there is none, or when it names no
    /// `architectures` (then it is not a folder this conversion handles).
    public init?(path: String) throws {
        let configPath = (path as NSString).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configPath) else { return nil }
        var config = try HuggingFaceJSON(contentsOf: configPath)
        guard let architectures = try config.array("architectures") else { return nil }
        guard case .string(let first)? = architectures.first?.value, !first.isEmpty else {
            throw HuggingFaceGGUFError.noArchitecture(config: configPath)
        }
        if let text = try config.object("text_config") { config = config.merging(text) }
        self.path = path
        self.config = config
        self.architecture = first
    }

    /// The path of `name` inside the folder.
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Whether the folder holds a file called `name`.
    public func has(_ name: String) -> Bool {
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: file(name), isDirectory: &isFolder) && !isFolder.boolValue
    }

    /// The JSON object in the file `name`, or `nil` when there is no such file.
    public func json(_ name: String) throws -> HuggingFaceJSON? {
        has(name) ? try HuggingFaceJSON(contentsOf: file(name)) : nil
    }
}

/// Where one Hugging Face tensor goes in the GGUF file.
public struct HuggingFaceTensorMapping: Sendable, Hashable {
    /// How the tensor's values change on the way.
    public enum Transform: Sendable, Hashable {
        /// Written as stored.
        case none
        /// The rows of each of `heads` heads reordered from Hugging Face's rotary layout (first
        /// halves, then second halves) to GGML's interleaved pairs: `LlamaModel.permute` in
        /// llama.cpp's converter. Row `h·d + 2i + j` of the output is row `h·d + j·d/2 + i` of
        /// the input (`d` rows per head, `i < d/2`, `j` 0 or 1).
        case permuteRotaryRows(heads: Int)
    }

    /// The GGUF tensor name (`blk.0.attn_q.weight`).
    public var ggufName: String
    public var transform: Transform

    public init(ggufName: String, transform: Transform = .none) {
        self.ggufName = ggufName
        self.transform = transform
    }
}

/// A tensor the conversion adds that the checkpoint does not hold (llama 3's `rope_freqs.weight`),
/// stored as F32.
public struct GeneratedTensor: Sendable, Hashable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// How one family of Hugging Face model classes becomes GGUF, as llama.cpp's
/// `convert_hf_to_gguf.py` converts it: tensor names and transforms, hyperparameter keys,
/// the tokenizer. One conforming type per converter class (`LlamaModel`, `Qwen2Model`,
/// `BertModel`, …), registered in ``HuggingFaceGGUFArchitectures`` under the Hugging Face
/// class names it handles.
public protocol HuggingFaceGGUFArchitecture: Sendable {
    /// The `architectures[0]` values handled (`LlamaForCausalLM`, `MistralForCausalLM`).
    var huggingFaceNames: [String] { get }
    /// `general.architecture` and the prefix of the hyperparameter keys (`llama`).
    var ggufArchitecture: String { get }
    /// Where the tensor goes; `nil` drops it (rotary `inv_freq` buffers and the like).
    /// - Throws: ``HuggingFaceGGUFError/unmappedTensor(input:tensor:architecture:)`` for a
    ///   tensor the converter would not map either.
    func mapping(forTensor name: String, shape: [Int], in folder: HuggingFaceFolder) throws -> HuggingFaceTensorMapping?
    /// The `<arch>.*` hyperparameter entries (`general.*` keys are the writer's).
    func hyperparameters(of folder: HuggingFaceFolder) throws -> [GGUFMetadataEntry]
    /// The `tokenizer.*` entries.
    func tokenizer(of folder: HuggingFaceFolder) throws -> [GGUFMetadataEntry]
    /// Tensors written ahead of the checkpoint's; none by default.
    func generatedTensors(of folder: HuggingFaceFolder) throws -> [GeneratedTensor]
}

extension HuggingFaceGGUFArchitecture {
    public func generatedTensors(of folder: HuggingFaceFolder) throws -> [GeneratedTensor] { [] }
}

/// The Hugging Face model classes SwiftQuant converts to GGUF, keyed by class name.
///
/// A value: a library user adds an architecture to a copy of ``standard``.
public struct HuggingFaceGGUFArchitectures: Sendable {
    private var byName: [String: any HuggingFaceGGUFArchitecture] = [:]

    /// An empty table.
    public init() {}

    /// Adds `architecture` under each of its Hugging Face class names, replacing earlier entries.
    public mutating func register(_ architecture: any HuggingFaceGGUFArchitecture) {
        for name in architecture.huggingFaceNames { byName[name] = architecture }
    }

    /// The entry for a Hugging Face class name, or `nil`.
    public func architecture(named name: String) -> (any HuggingFaceGGUFArchitecture)? { byName[name] }

    /// The class names handled, sorted.
    public var supportedNames: [String] { byName.keys.sorted() }

    /// Llama (and Mistral, which llama.cpp's converter writes as llama), Qwen2 and BERT.
    public static let standard: HuggingFaceGGUFArchitectures = {
        var table = HuggingFaceGGUFArchitectures()
        table.register(LlamaGGUFArchitecture())
        table.register(Qwen2GGUFArchitecture())
        table.register(BertGGUFArchitecture())
        return table
    }()
}
