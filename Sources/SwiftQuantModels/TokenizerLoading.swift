import Foundation
import SwiftQuantCore

/// The tokenizer of a model folder: reads `folder/tokenizer.json` and builds the tokenizer its
/// `model.type` names (see ``loadTokenizer(json:path:)``).
public func loadTokenizer(folder: String) throws(TokenizerError) -> any Tokenizer {
    let path = (folder as NSString).appendingPathComponent("tokenizer.json")
    guard let data = FileManager.default.contents(atPath: path) else { throw .cannotRead(path: path) }
    return try loadTokenizer(json: data, path: path)
}

/// The tokenizer a `tokenizer.json` describes: ``BPETokenizer`` for `model.type` "BPE",
/// ``WordPieceTokenizer`` for "WordPiece"; Unigram and the rest are refused with one line.
/// `path` is only used in messages.
public func loadTokenizer(json data: Data, path: String = "tokenizer.json") throws(TokenizerError) -> any Tokenizer {
    let root = try parseTokenizerJSON(data, path: path)
    guard let model = root["model"], model.isObject else { throw root.missing("model", "an object") }
    // Files written by old `tokenizers` versions omit the type of a BPE model.
    let type = model["type"]?.string ?? (model["merges"] != nil ? "BPE" : "")
    switch type {
    case "BPE":
        return try BPETokenizer(root: root)
    case "WordPiece":
        return try WordPieceTokenizer(root: root)
    default:
        throw model["type"]?.unsupported(type, supported: "BPE, WordPiece")
            ?? root.missing("model.type", "a string")
    }
}

extension WordPieceTokenizer: Tokenizer {
    /// Builds the tokenizer from a WordPiece `tokenizer.json` (`model.vocab`), as if from the
    /// equivalent `vocab.txt`. Only BERT's uncased normalization is implemented.
    init(root: TokenizerJSON) throws(TokenizerError) {
        guard let model = root["model"], let members = model["vocab"]?.members else {
            throw root.missing("model.vocab", "an object")
        }
        var lines: [String?] = Array(repeating: nil, count: members.count)
        for (token, value) in members {
            guard let id = value.int, id >= 0, id < lines.count, lines[id] == nil else {
                throw value.invalid("should be a unique id below the vocabulary size \(members.count)")
            }
            lines[id] = token
        }
        let text = lines.map { $0 ?? "" }.joined(separator: "\n") + "\n"
        do {
            try self.init(vocabularyData: Data(text.utf8), path: root.path)
        } catch {
            throw .invalidField(path: root.path, field: "model.vocab", reason: error.description)
        }
    }

    /// `[CLS]` … `[SEP]` with `addSpecialTokens`, and no length limit (use
    /// ``encode(_:maxLength:)`` for BERT's 512-token window).
    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        let framed = encode(text, maxLength: .max)
        return addSpecialTokens ? framed : Array(framed.dropFirst().dropLast())
    }

    /// Word pieces joined by spaces, `##` continuations glued to the piece before.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        String(decoding: decodeBytes(ids, skipSpecialTokens: skipSpecialTokens, continuing: false), as: UTF8.self)
    }

    public func decodeBytes(_ ids: [Int32], skipSpecialTokens: Bool, continuing: Bool) -> [UInt8] {
        var byID: [Int32: [UInt8]] = [:]
        let wanted = Set(ids)
        for (token, id) in vocabulary where wanted.contains(id) { byID[id] = token }
        var bytes: [UInt8] = []
        var first = !continuing
        for id in ids {
            if skipSpecialTokens && specialTokenIDs.contains(id) { continue }
            guard let token = byID[id] else { continue }
            if token.starts(with: [0x23, 0x23]) {
                bytes += token.dropFirst(2)
            } else {
                if !first { bytes.append(UInt8(ascii: " ")) }
                bytes += token
            }
            first = false
        }
        return bytes
    }

    /// `[CLS]`, which starts every framed sequence.
    public var bosTokenID: Int32? { classifierTokenID }
    /// `[SEP]`, which ends every framed sequence.
    public var eosTokenID: Int32? { separatorTokenID }
    /// `[CLS]`, `[SEP]`, `[UNK]`, and `[PAD]` / `[MASK]` when the vocabulary has them.
    public var specialTokenIDs: Set<Int32> {
        var ids: Set<Int32> = [classifierTokenID, separatorTokenID, unknownTokenID]
        for name in ["[PAD]", "[MASK]"] { if let id = vocabulary[Array(name.utf8)] { ids.insert(id) } }
        return ids
    }

    public func token(of id: Int32) -> String? {
        vocabulary.first(where: { $0.value == id }).map { String(decoding: $0.key, as: UTF8.self) }
    }
}
