import SwiftQuantCore

/// A JSON object read from a Hugging Face folder's `config.json`, `tokenizer.json` or
/// `tokenizer_config.json`, with typed look-ups that name the file and key when a value is
/// missing or of the wrong type. Duplicate keys: the last wins, as Python's `json` reads them.
public struct HuggingFaceJSON: Sendable {
    /// The file the object comes from, for messages.
    public let file: String
    /// The key path of this object inside the file (`rope_scaling.`), for messages.
    let prefix: String
    let members: [String: JSONNode]

    init(file: String, prefix: String = "", node: JSONNode) throws(HuggingFaceGGUFError) {
        guard case .object(let list) = node.value else {
            throw .invalidValue(file: file, key: prefix.isEmpty ? "(top level)" : String(prefix.dropLast()), expected: "a JSON object")
        }
        self.file = file
        self.prefix = prefix
        var members: [String: JSONNode] = [:]
        for member in list { members[member.key] = member.value }
        self.members = members
    }

    /// Reads the JSON object in the file at `path`.
    public init(contentsOf path: String) throws {
        try self.init(file: path, node: Self.parse(contentsOf: path))
    }

    /// The JSON value in the file at `path`, whatever its type (sentence-transformers'
    /// `modules.json` is an array); walked with `JSONNode`'s look-ups.
    static func parse(contentsOf path: String) throws -> JSONNode {
        let mapped = try MappedFile(path: path)
        do {
            return try JSONParser.parse(mapped.bytes)
        } catch {
            throw HuggingFaceGGUFError.unreadableFile(path: path, reason: "not valid JSON at byte \(error.offset): \(error.reason)")
        }
    }

    /// A copy with `other`'s members added over this one's (how the converter lifts `text_config`).
    func merging(_ other: HuggingFaceJSON) -> HuggingFaceJSON {
        HuggingFaceJSON(file: file, prefix: prefix, members: members.merging(other.members) { _, new in new })
    }

    private init(file: String, prefix: String, members: [String: JSONNode]) {
        self.file = file
        self.prefix = prefix
        self.members = members
    }

    /// Whether the key is present with a value other than `null`.
    public func has(_ key: String) -> Bool {
        guard let node = members[key] else { return false }
        if case .null = node.value { return false }
        return true
    }

    func node(_ key: String) -> JSONNode? {
        guard let node = members[key] else { return nil }
        if case .null = node.value { return nil }
        return node
    }

    private func invalid(_ key: String, _ expected: String) -> HuggingFaceGGUFError {
        .invalidValue(file: file, key: prefix + key, expected: expected)
    }

    /// The first of `keys` that is present, as an integer; `nil` when none is.
    public func integer(_ keys: String...) throws(HuggingFaceGGUFError) -> Int? {
        for key in keys {
            guard let node = node(key) else { continue }
            guard case .number(let text) = node.value else { throw invalid(key, "an integer") }
            if let value = Int(text) { return value }
            // 2048.0 is an integer to Python's converter only as a float; accept exact ones.
            guard let value = Double(text), value.rounded() == value, abs(value) < 9e15 else { throw invalid(key, "an integer") }
            return Int(value)
        }
        return nil
    }

    /// The first of `keys` that is present, as an integer; throws when none is.
    public func requiredInteger(_ keys: String...) throws(HuggingFaceGGUFError) -> Int {
        for key in keys {
            if let value = try integer(key) { return value }
        }
        throw .missingKey(file: file, key: prefix + keys[0])
    }

    /// The first of `keys` that is present, as a number.
    public func number(_ keys: String...) throws(HuggingFaceGGUFError) -> Double? {
        for key in keys {
            guard let node = node(key) else { continue }
            guard case .number(let text) = node.value, let value = Double(text) else { throw invalid(key, "a number") }
            return value
        }
        return nil
    }

    /// The value at `key` as a string, `nil` when absent.
    public func string(_ key: String) throws(HuggingFaceGGUFError) -> String? {
        guard let node = node(key) else { return nil }
        guard case .string(let value) = node.value else { throw invalid(key, "a string") }
        return value
    }

    /// The value at `key` as a boolean, `nil` when absent.
    public func bool(_ key: String) throws(HuggingFaceGGUFError) -> Bool? {
        guard let node = node(key) else { return nil }
        guard case .bool(let value) = node.value else { throw invalid(key, "true or false") }
        return value
    }

    /// The value at `key` as an object, `nil` when absent.
    public func object(_ key: String) throws(HuggingFaceGGUFError) -> HuggingFaceJSON? {
        guard let node = node(key) else { return nil }
        return try HuggingFaceJSON(file: file, prefix: prefix + key + ".", node: node)
    }

    /// The value at `key` as an array, `nil` when absent.
    func array(_ key: String) throws(HuggingFaceGGUFError) -> [JSONNode]? {
        guard let node = node(key) else { return nil }
        guard case .array(let values) = node.value else { throw invalid(key, "an array") }
        return values
    }

    /// The elements of the array at `key` as objects.
    func objects(_ key: String) throws(HuggingFaceGGUFError) -> [HuggingFaceJSON]? {
        guard let values = try array(key) else { return nil }
        var out: [HuggingFaceJSON] = []
        for (index, value) in values.enumerated() {
            out.append(try HuggingFaceJSON(file: file, prefix: prefix + "\(key)[\(index)].", node: value))
        }
        return out
    }

}
