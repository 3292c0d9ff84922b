import Foundation
import SwiftQuantCore

/// Why a Hugging Face model folder cannot be converted to GGUF.
public enum HuggingFaceFolderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file the conversion needs is missing.
    case missingFile(path: String, needed: String)
    /// A JSON file that does not parse, with the byte offset of the problem.
    case invalidJSON(path: String, offset: Int, reason: String)
    /// A key that is missing or holds the wrong kind of value.
    case invalidValue(path: String, key: String, expected: String)
    /// A checkpoint tensor the architecture's name table does not know.
    case unmappedTensor(name: String, architecture: String)
    /// A sentence-transformers pooling mode llama.cpp has no pooling type for.
    case unsupportedPooling(path: String)
    /// A token id at or past the vocabulary size `config.json` declares.
    case tokenIDOutOfRange(path: String, token: String, id: Int, vocabularySize: Int)

    public var description: String {
        switch self {
        case .missingFile(let path, let needed):
            "\(path): not found; \(needed)"
        case .invalidJSON(let path, let offset, let reason):
            "\(path): not valid JSON at byte \(offset): \(reason); fix or replace the file"
        case .invalidValue(let path, let key, let expected):
            "\(path): '\(printableInMessage(key))' must be \(expected); fix the file"
        case .unmappedTensor(let name, let architecture):
            "tensor '\(printableInMessage(name))' has no GGUF name for \(architecture) (llama.cpp's convert_hf_to_gguf.py refuses it too); remove it from the checkpoint or convert to another format"
        case .unsupportedPooling(let path):
            "\(path): no pooling mode llama.cpp supports (mean, cls or lasttoken); set one of pooling_mode_mean_tokens, pooling_mode_cls_token, pooling_mode_lasttoken"
        case .tokenIDOutOfRange(let path, let token, let id, let vocabularySize):
            "\(path): token '\(printableInMessage(token))' has id \(id), past the vocabulary size \(vocabularySize) in config.json; fix vocab_size or the tokenizer"
        }
    }
}

/// A JSON file of a Hugging Face model folder (`config.json`, `tokenizer.json`, …), parsed
/// strictly; lookups behave as Python's `json` module does (a repeated key: the last wins).
struct HuggingFaceJSONFile {
    let path: String
    let root: JSONNode

    /// The file at `folder/name`, or `nil` when there is none.
    static func load(_ name: String, in folder: String) throws(HuggingFaceFolderError) -> HuggingFaceJSONFile? {
        let path = URL(fileURLWithPath: folder).appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try HuggingFaceJSONFile(path: path)
    }

    init(path: String) throws(HuggingFaceFolderError) {
        self.path = path
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .missingFile(path: path, needed: "it could not be read")
        }
        let parsed: Result<JSONNode, JSONSyntaxError> = data.withUnsafeBytes { bytes in
            do throws(JSONSyntaxError) { return .success(try JSONParser.parse(bytes)) } catch { return .failure(error) }
        }
        switch parsed {
        case .success(let node): root = node
        case .failure(let error): throw .invalidJSON(path: path, offset: error.offset, reason: error.reason)
        }
    }
}

extension JSONNode {
    /// The member `key` of an object (the last one when it repeats, as Python keeps it), or
    /// `nil` for a missing key or a value that is not an object.
    subscript(key: String) -> JSONNode? {
        guard case .object(let members) = value else { return nil }
        return members.last { $0.key == key }?.value
    }

    var isNull: Bool { if case .null = value { true } else { false } }

    var stringValue: String? { if case .string(let text) = value { text } else { nil } }

    var boolValue: Bool? { if case .bool(let flag) = value { flag } else { nil } }

    /// An integer written without fraction or exponent (Python's `int` from `json`).
    var integerValue: Int? {
        guard case .number(let text) = value, !text.contains(where: { ".eE".contains($0) }) else { return nil }
        return Int(text)
    }

    /// Any number (Python's `int` or `float`).
    var numberValue: Double? { if case .number(let text) = value { Double(text) } else { nil } }

    var arrayValue: [JSONNode]? { if case .array(let items) = value { items } else { nil } }

    var members: [Member]? { if case .object(let members) = value { members } else { nil } }
}
