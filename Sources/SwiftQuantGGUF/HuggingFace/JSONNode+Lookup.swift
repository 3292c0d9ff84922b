import SwiftQuantCore

/// Look-ups over a parsed tokenizer file (`tokenizer.json`'s nested templates and vocabulary,
/// `modules.json`), with Python's `json` semantics: a repeated key, the last wins; a missing
/// key or a value of another type is `nil`, as `dict.get` returns for the converter.
extension JSONNode {
    /// The member `key` of an object, or `nil` for a missing key or a value that is not an object.
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

    var arrayValue: [JSONNode]? { if case .array(let items) = value { items } else { nil } }

    var members: [Member]? { if case .object(let members) = value { members } else { nil } }
}
