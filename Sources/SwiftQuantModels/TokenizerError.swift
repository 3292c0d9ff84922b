import SwiftQuantCore

/// Why a `tokenizer.json` cannot be loaded; each description is one line naming the file,
/// the JSON field and what to do.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file is missing or unreadable.
    case cannotRead(path: String)
    /// The file is not valid JSON.
    case invalidJSON(path: String, offset: Int, reason: String)
    /// A field is missing or has the wrong type or value.
    case invalidField(path: String, field: String, reason: String)
    /// The file asks for a model, normalizer, pre-tokenizer, post-processor or decoder this
    /// library does not implement.
    case unsupported(path: String, field: String, value: String, supported: String)

    public var description: String {
        switch self {
        case .cannotRead(let path):
            "\(path): cannot read the tokenizer; give a model folder with tokenizer.json or the file itself"
        case .invalidJSON(let path, let offset, let reason):
            "\(path): not valid JSON at byte \(offset): \(reason)"
        case .invalidField(let path, let field, let reason):
            "\(path): '\(field)' \(reason)"
        case .unsupported(let path, let field, let value, let supported):
            "\(path): '\(field)' is \(value), which is not supported (supported: \(supported))"
        }
    }
}

/// Field access over the parsed `tokenizer.json`, with errors naming the dotted field path.
struct TokenizerJSON {
    let node: JSONNode
    /// Dotted path of `node` in the document, for messages.
    let field: String
    let path: String

    subscript(key: String) -> TokenizerJSON? {
        guard case .object(let members) = node.value,
              let member = members.last(where: { $0.key == key }) else { return nil }
        if case .null = member.value.value { return nil }
        return TokenizerJSON(node: member.value, field: field.isEmpty ? key : field + "." + key, path: path)
    }

    var isObject: Bool { if case .object = node.value { true } else { false } }

    var string: String? { if case .string(let s) = node.value { s } else { nil } }

    var bool: Bool? { if case .bool(let b) = node.value { b } else { nil } }

    var int: Int? {
        guard case .number(let text) = node.value else { return nil }
        return Int(text)
    }

    var array: [TokenizerJSON]? {
        guard case .array(let items) = node.value else { return nil }
        return items.enumerated().map { TokenizerJSON(node: $1, field: "\(field)[\($0)]", path: path) }
    }

    var members: [(key: String, value: TokenizerJSON)]? {
        guard case .object(let members) = node.value else { return nil }
        return members.map { ($0.key, TokenizerJSON(node: $0.value, field: field + "." + $0.key, path: path)) }
    }

    func invalid(_ reason: String) -> TokenizerError {
        .invalidField(path: path, field: field, reason: reason)
    }

    func requiredString(_ key: String) throws(TokenizerError) -> String {
        guard let value = self[key]?.string else { throw missing(key, "a string") }
        return value
    }

    func optionalBool(_ key: String, default value: Bool) throws(TokenizerError) -> Bool {
        guard let node = self[key] else { return value }
        guard let flag = node.bool else { throw node.invalid("should be true or false, not \(node.node.typeDescription)") }
        return flag
    }

    func missing(_ key: String, _ what: String) -> TokenizerError {
        .invalidField(path: path, field: field.isEmpty ? key : field + "." + key, reason: "is missing or not \(what)")
    }

    func unsupported(_ value: String, supported: String) -> TokenizerError {
        .unsupported(path: path, field: field, value: value, supported: supported)
    }
}
