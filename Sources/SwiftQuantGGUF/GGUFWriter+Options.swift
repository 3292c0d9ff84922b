import Foundation
import SwiftQuantCore
import SwiftQuantKernels

extension GGUFWriter.Options {
    /// The options for converting `source` (opened from `input`) to GGUF.
    ///
    /// `general.architecture` is, in order: `architecture` (the `--arch` option: what the user
    /// says wins), a GGUF source's own, or `model_type` from the `config.json` beside the input
    /// (Hugging Face's layout). With none of these there is no honest default — llama.cpp
    /// refuses an architecture it does not know — so this throws
    /// ``GGUFWriterError/unknownArchitecture(input:)``, which tells the user to pass `--arch`.
    ///
    /// `general.name` is a GGUF source's own, else the input's name without its extension;
    /// for a generic file name (`model.safetensors`, `model-00001-of-00002.safetensors`) the
    /// folder's name, which is what Hugging Face names the model.
    ///
    /// A SwiftQuant checkpoint converted from GGUF carries the GGUF's keys as `source.<key>`;
    /// they come back under their own names (architecture and name included), at the narrowest
    /// of GGUF's usual widths that holds each value (see
    /// `GGUFMetadataEntry(key:restoring:)`), so GGUF → checkpoint → GGUF keeps the
    /// hyperparameters and tokenizer llama.cpp needs.
    public static func resolve(source: any TensorSource, input: String, architecture: String?) throws -> Self {
        if let view = source as? HuggingFaceGGUFSource {
            // A Hugging Face folder: its mapping names the architecture and supplies every entry.
            let entries = view.entries.filter { !GGUFWriter.reservedKeys.contains($0.key) }
            return Self(architecture: view.ggufArchitecture, name: modelName(forInput: input), sourceEntries: entries)
        }
        let gguf = source as? GGUFFile
        let restored = gguf == nil ? restoredEntries(from: source.metadata) : []
        let own = { (key: String) -> MetadataValue? in
            gguf?.metadata[key] ?? restored.first(where: { $0.key == key })?.value
        }
        let resolved: String
        if let architecture {
            guard isValidArchitecture(architecture) else { throw GGUFWriterError.invalidArchitecture(architecture) }
            resolved = architecture
        } else if case .string(let own)? = own("general.architecture"), !own.isEmpty {
            resolved = own
        } else if let modelType = try modelTypeBeside(input) {
            resolved = modelType
        } else {
            throw GGUFWriterError.unknownArchitecture(input: input)
        }

        let name: String
        if case .string(let own)? = own("general.name"), !own.isEmpty {
            name = own
        } else {
            name = modelName(forInput: input)
        }
        let entries = (gguf?.entries ?? restored).filter { !GGUFWriter.reservedKeys.contains($0.key) }
        var sourceFileType: UInt32?
        if case .uint(let value)? = own("general.file_type") { sourceFileType = UInt32(exactly: value) }
        return Self(architecture: resolved, name: name, sourceEntries: entries, sourceFileType: sourceFileType)
    }

    /// The GGUF entries a checkpoint converted from a GGUF file carries as `source.<key>`
    /// (its `general.source_format` is `gguf`), under their own keys in byte order; none otherwise.
    static func restoredEntries(from metadata: [String: MetadataValue]) -> [GGUFMetadataEntry] {
        guard case .string(let format)? = metadata["general.source_format"], format.lowercased() == "gguf" else { return [] }
        return metadata.keys.filter { $0.hasPrefix("source.") && $0.count > "source.".count }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { GGUFMetadataEntry(key: String($0.dropFirst("source.".count)), restoring: metadata[$0]!) }
    }

    /// Letters, digits, `_`, `-` and `.`, as llama.cpp's architecture names are spelled.
    static func isValidArchitecture(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-.".unicodeScalars.contains($0)) }
    }

    /// `model_type` from `config.json` in the input folder (or the input file's folder), or
    /// `nil` when there is no such file or key.
    static func modelTypeBeside(_ input: String) throws -> String? {
        let folder = isDirectory(input) ? URL(fileURLWithPath: input) : URL(fileURLWithPath: input).deletingLastPathComponent()
        let config = folder.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: config.path) else { return nil }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(contentsOf: config))
        } catch {
            throw GGUFWriterError.unreadableConfig(path: config.path, reason: "not valid JSON")
        }
        guard let dictionary = object as? [String: Any] else {
            throw GGUFWriterError.unreadableConfig(path: config.path, reason: "not a JSON object")
        }
        guard let value = dictionary["model_type"] else { return nil }
        guard let modelType = value as? String, isValidArchitecture(modelType) else {
            throw GGUFWriterError.unreadableConfig(path: config.path, reason: "model_type is not an architecture name")
        }
        return modelType
    }

    static func modelName(forInput input: String) -> String {
        let url = URL(fileURLWithPath: input).standardizedFileURL
        if isDirectory(input) { return url.lastPathComponent }
        var base = url.deletingPathExtension().lastPathComponent
        if base.hasSuffix(".safetensors.index") { base = String(base.dropLast(".safetensors.index".count)) }
        let generic = base == "model" || base == "pytorch_model" || base.hasPrefix("model-0")
        let folder = url.deletingLastPathComponent().lastPathComponent
        return generic && !folder.isEmpty && folder != "/" ? folder : base
    }
}
