import Foundation
import SwiftQuantCore

/// A BERT WordPiece vocabulary as `convert_hf_to_gguf.py` writes it (`TextModel.get_vocab_base`
/// then `BertModel.set_vocab`).
///
/// One token per id below `config.json`'s `vocab_size` (ids the tokenizer lacks become
/// `[PAD<id>]`, unused); added tokens are control tokens when special (or when they look
/// special), user-defined otherwise; every other token is normal. In the GGUF form
/// (``ggufTokens``) control tokens stay as they are, continuation pieces lose their `##`, and
/// every other token gains the phantom space `▁` that llama.cpp's WordPiece tokenizer expects.
struct BertVocabulary {
    /// The tokens by id, as the Hugging Face tokenizer spells them.
    private(set) var tokens: [String] = []
    private(set) var types: [GGUFTokenType] = []

    /// The tokens as `tokenizer.ggml.tokens` stores them.
    var ggufTokens: [String] {
        // Compared and cut by Unicode scalars, as Python's str does: "##ा" is one Character
        // "#" + "#ा" to Swift, so Character-based hasPrefix("##") would miss it.
        zip(tokens, types).map { token, type in
            if type == .control { return token }
            if token.unicodeScalars.starts(with: "##".unicodeScalars) { return String(token.unicodeScalars.dropFirst(2)) }
            return "\u{2581}" + token
        }
    }

    /// Reads `tokenizer.json` (its `model.vocab` and `added_tokens`), or without one `vocab.txt`
    /// (one token per line, the line number its id) with the `*_token` strings of
    /// `tokenizer_config.json` / `special_tokens_map.json` as the added, special tokens.
    init(folder: HuggingFaceFolder) throws {
        var vocabulary: [(token: String, id: Int)] = []
        var added: [String: (id: Int, special: Bool)] = [:]
        let source: String
        if let tokenizer = try folder.json("tokenizer.json") {
            source = tokenizer.file
            guard let model = try tokenizer.object("model"), try model.object("vocab") != nil else {
                throw HuggingFaceGGUFError.unsupportedTokenizer(
                    path: source, reason: "model.vocab is not an object of token → id (a WordPiece vocabulary), which a BERT conversion needs")
            }
            vocabulary = try HuggingFaceVocabulary.vocabulary(model).map { (token: $0.0, id: $0.1) }
            for token in try HuggingFaceVocabulary.addedTokens(tokenizer) {
                vocabulary.append((token.content, token.id))
                added[token.content] = (token.id, token.special)
            }
        } else if folder.has("vocab.txt") {
            source = folder.file("vocab.txt")
            guard let text = try? String(contentsOfFile: source, encoding: .utf8) else {
                throw HuggingFaceGGUFError.unreadableFile(path: source, reason: "not readable as UTF-8 text")
            }
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
                $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
            }
            if lines.last == "" { lines.removeLast() }
            vocabulary = lines.enumerated().map { ($0.element, $0.offset) }
            let ids = Dictionary(vocabulary.map { ($0.token, $0.id) }, uniquingKeysWith: { first, _ in first })
            for name in ["tokenizer_config.json", "special_tokens_map.json"] {
                guard let file = try folder.json(name) else { continue }
                for type in ["unk", "sep", "pad", "cls", "mask", "bos", "eos"] {
                    guard let token = try SpecialVocabulary.tokenContent(file, "\(type)_token"), let id = ids[token] else { continue }
                    added[token] = (id, true)
                }
            }
        } else {
            throw HuggingFaceGGUFError.missingTokenizer(folder: folder.path, expected: "a BERT model needs tokenizer.json or vocab.txt")
        }

        let size = try folder.config.integer("vocab_size") ?? Set(vocabulary.map(\.token)).count
        guard size >= 0 else {
            throw HuggingFaceGGUFError.invalidValue(file: folder.file("config.json"), key: "vocab_size", expected: "a non-negative integer")
        }
        var byID = [String?](repeating: nil, count: size)
        for (token, id) in vocabulary {
            guard id < size else {
                throw HuggingFaceGGUFError.invalidValue(
                    file: source, key: token, expected: "a token id below vocab_size \(size) of config.json (it is \(id))")
            }
            byID[id] = token
        }
        tokens.reserveCapacity(size)
        types.reserveCapacity(size)
        for (id, token) in byID.enumerated() {
            guard var token else {
                tokens.append("[PAD\(id)]")
                types.append(.unused)
                continue
            }
            if let entry = added[token] {
                if entry.special || HuggingFaceVocabulary.looksSpecial(token) {
                    types.append(.control)
                } else {
                    token = token.replacingOccurrences(of: "\u{2581}", with: " ")
                    types.append(.userDefined)
                }
            } else {
                types.append(.normal)
            }
            tokens.append(token)
        }
    }
}
