import Foundation
import SwiftQuantCore

/// llama.cpp's token types (`gguf.TokenType`, the same numbers as SentencePiece's).
enum GGUFTokenType: Int64 {
    case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// The `tokenizer.*` entries llama.cpp's converter writes from a Hugging Face folder's
/// tokenizer files (`TextModel._set_vocab_*` and gguf-py's `SpecialVocab`).
enum HuggingFaceVocabulary {
    /// The converter's vocabulary paths, tried in the order an architecture gives.
    enum Kind: Sendable {
        /// `tokenizer.model` (SentencePiece protobuf): `_set_vocab_sentencepiece`, model "llama".
        case sentencePiece
        /// SentencePiece-style BPE in `tokenizer.json` (byte fallback): `_set_vocab_llama_hf`, model "llama".
        case llamaHF
        /// Byte-level BPE in `tokenizer.json`: `_set_vocab_gpt2`, model "gpt2" with merges and `pre`.
        case byteLevelBPE
    }

    /// The first path in `order` whose files the folder has, as the converter falls through
    /// them. `spacePrefixFromConfig`: llama's `add_prefix_space` from `tokenizer_config.json`.
    static func entries(of folder: HuggingFaceFolder, order: [Kind], spacePrefixFromConfig: Bool) throws -> [GGUFMetadataEntry] {
        var entries: [GGUFMetadataEntry] = []
        let tokenizerConfig = try folder.json("tokenizer_config.json")
        if spacePrefixFromConfig, let addPrefix = try tokenizerConfig?.bool("add_prefix_space") {
            entries.append(.bool("tokenizer.ggml.add_space_prefix", addPrefix))
        }
        let tokenizer = try folder.json("tokenizer.json")
        for kind in order {
            switch kind {
            case .sentencePiece:
                guard folder.has("tokenizer.model") else { continue }
                return entries + (try sentencePiece(folder: folder, tokenizerConfig: tokenizerConfig, tokenizer: tokenizer))
            case .llamaHF:
                guard let tokenizer, try isLlamaHF(tokenizer) else { continue }
                return entries + (try llamaHF(folder: folder, tokenizer: tokenizer, tokenizerConfig: tokenizerConfig))
            case .byteLevelBPE:
                guard let tokenizer else { continue }
                return entries + (try byteLevelBPE(folder: folder, tokenizer: tokenizer, tokenizerConfig: tokenizerConfig))
            }
        }
        throw HuggingFaceGGUFError.missingTokenizer(
            folder: folder.path, expected: order.contains(.sentencePiece) ? "tokenizer.model or tokenizer.json" : "tokenizer.json")
    }

    // MARK: - Byte-level BPE (gpt2)

    /// `_set_vocab_gpt2`: every id below `vocab_size` (missing ones `[PADn]`, unused), added
    /// tokens control (special, or looking special) or user-defined, the merges, `pre` from
    /// the pre-tokenizer (see ``preTokenizerName(_:)``).
    static func byteLevelBPE(folder: HuggingFaceFolder, tokenizer: HuggingFaceJSON, tokenizerConfig: HuggingFaceJSON?) throws -> [GGUFMetadataEntry] {
        let model = try tokenizer.object("model") ?? { throw HuggingFaceGGUFError.missingKey(file: tokenizer.file, key: "model") }()
        guard try model.string("type") == "BPE" else {
            throw HuggingFaceGGUFError.unsupportedTokenizer(path: tokenizer.file, reason: "tokenizer model '\(try model.string("type") ?? "?")' is not BPE")
        }
        let pre = try preTokenizerName(tokenizer)
        var byID: [Int: String] = [:]
        for (token, node) in try vocabulary(model) { byID[node] = token }
        let added = try addedTokens(tokenizer)
        for token in added { byID[token.id] = token.content }
        let largest = byID.keys.max() ?? -1
        let count = try folder.config.integer("vocab_size") ?? byID.count
        guard largest < count else {
            throw HuggingFaceGGUFError.invalidValue(file: folder.file("config.json"), key: "vocab_size", expected: "larger than the tokenizer's largest id \(largest)")
        }
        let addedByContent = Dictionary(added.map { ($0.content, $0) }, uniquingKeysWith: { first, _ in first })
        var tokens: [MetadataValue] = []
        var types: [MetadataValue] = []
        tokens.reserveCapacity(count)
        types.reserveCapacity(count)
        for id in 0..<count {
            guard var token = byID[id] else {
                tokens.append(.string("[PAD\(id)]"))
                types.append(.int(GGUFTokenType.unused.rawValue))
                continue
            }
            var type = GGUFTokenType.normal
            if let addedToken = addedByContent[token] {
                if addedToken.special || looksSpecial(token) {
                    type = .control
                } else {
                    token = token.replacingOccurrences(of: "\u{2581}", with: " ")
                    type = .userDefined
                }
            }
            tokens.append(.string(token))
            types.append(.int(type.rawValue))
        }
        var entries: [GGUFMetadataEntry] = [
            .string("tokenizer.ggml.model", "gpt2"),
            .string("tokenizer.ggml.pre", pre),
            GGUFMetadataEntry(key: "tokenizer.ggml.tokens", type: .array, elementType: .string, value: .array(tokens)),
            GGUFMetadataEntry(key: "tokenizer.ggml.token_type", type: .array, elementType: .int32, value: .array(types)),
        ]
        let merges = try self.merges(model)
        if !merges.isEmpty {
            entries.append(GGUFMetadataEntry(key: "tokenizer.ggml.merges", type: .array, elementType: .string, value: .array(merges.map { .string($0) })))
        }
        entries += try SpecialVocabulary(folder: folder, tokenizer: tokenizer, tokenizerConfig: tokenizerConfig, vocabularySize: nil).entries
        return entries
    }

    /// `tokenizer.ggml.pre` for a byte-level BPE tokenizer, read from its pre-tokenizer.
    ///
    /// llama.cpp's converter names `pre` by hashing the token ids of a check text, which needs
    /// the tokenizer run; this reads the pre-tokenizer's definition instead: a `ByteLevel`
    /// pre-tokenizer with its own (GPT-2) regex is "gpt-2"; a `Split` on Llama 3's regex
    /// followed by `ByteLevel` without regex is "llama-bpe"; on Qwen2's regex (digits one at a
    /// time) "qwen2". Anything else throws ``HuggingFaceGGUFError/unknownPreTokenizer(path:found:)``.
    static func preTokenizerName(_ tokenizer: HuggingFaceJSON) throws -> String {
        guard let pre = try tokenizer.object("pre_tokenizer") else {
            throw HuggingFaceGGUFError.unknownPreTokenizer(path: tokenizer.file, found: "(none)")
        }
        let steps = try pre.string("type") == "Sequence" ? (try pre.objects("pretokenizers") ?? []) : [pre]
        let types = try steps.map { try $0.string("type") ?? "?" }
        let description = "[" + types.joined(separator: ", ") + "]"
        if steps.count == 1, types[0] == "ByteLevel", try steps[0].bool("use_regex") ?? true, try steps[0].bool("add_prefix_space") != true {
            return "gpt-2"
        }
        if steps.count == 2, types == ["Split", "ByteLevel"], try steps[1].bool("use_regex") == false,
           try steps[1].bool("add_prefix_space") != true,
           try steps[0].string("behavior") == "Isolated", try steps[0].bool("invert") != true,
           let pattern = try steps[0].object("pattern")?.string("Regex") {
            if let name = knownSplitPatterns[pattern] { return name }
            throw HuggingFaceGGUFError.unknownPreTokenizer(path: tokenizer.file, found: "Split on \(pattern.debugDescription) then ByteLevel")
        }
        throw HuggingFaceGGUFError.unknownPreTokenizer(path: tokenizer.file, found: description)
    }

    /// The split regexes of `tokenizer.json` files whose llama.cpp pre-tokenizer is known
    /// (the patterns llama.cpp's `llama-vocab.cpp` uses for these `pre` names).
    static let knownSplitPatterns: [String: String] = [
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: "llama-bpe",
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: "qwen2",
    ]

    /// `TextModel.does_token_look_special`.
    /// Compared by Unicode scalars, as Python compares str: Swift's Character-based
    /// `hasPrefix`/`hasSuffix` would miss a match followed by a combining mark.
    static func looksSpecial(_ token: String) -> Bool {
        let scalars = token.unicodeScalars
        func between(_ start: String, _ end: String) -> Bool {
            scalars.count >= start.unicodeScalars.count + end.unicodeScalars.count
                && scalars.starts(with: start.unicodeScalars) && scalars.reversed().starts(with: end.unicodeScalars.reversed())
        }
        return ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains { $0.hasSameBytes(as: token) }
            || between("<|", "|>") || between("<\u{FF5C}", "\u{FF5C}>") || between("<unused", ">")
    }

    /// `model.merges` as gguf-py writes them: "a b", with spaces inside a pair's parts (the
    /// list-of-pairs form) written as U+0120.
    static func merges(_ model: HuggingFaceJSON) throws -> [String] {
        guard let list = try model.array("merges") else { return [] }
        var out: [String] = []
        out.reserveCapacity(list.count)
        for (index, node) in list.enumerated() {
            switch node.value {
            case .string(let merge):
                out.append(merge)
            case .array(let pair) where pair.count == 2:
                guard case .string(let first) = pair[0].value, case .string(let second) = pair[1].value else { fallthrough }
                let escape = { (part: String) in part.replacingOccurrences(of: " ", with: "\u{0120}") }
                out.append(escape(first) + " " + escape(second))
            default:
                throw HuggingFaceGGUFError.invalidValue(file: model.file, key: "model.merges[\(index)]", expected: "a string or a pair of strings")
            }
        }
        return out
    }

    static func vocabulary(_ model: HuggingFaceJSON) throws -> [(String, Int)] {
        guard let vocab = try model.object("vocab") else { throw HuggingFaceGGUFError.missingKey(file: model.file, key: "model.vocab") }
        var out: [(String, Int)] = []
        out.reserveCapacity(vocab.members.count)
        for (token, node) in vocab.members {
            guard let id = node.nonNegativeInteger else {
                throw HuggingFaceGGUFError.invalidValue(file: model.file, key: "model.vocab", expected: "a map from tokens to non-negative ids")
            }
            out.append((token, id))
        }
        return out
    }

    struct AddedToken {
        var id: Int
        var content: String
        var special: Bool
    }

    static func addedTokens(_ tokenizer: HuggingFaceJSON) throws -> [AddedToken] {
        try (tokenizer.objects("added_tokens") ?? []).map { entry in
            guard let id = try entry.integer("id"), id >= 0, let content = try entry.string("content") else {
                throw HuggingFaceGGUFError.invalidValue(file: tokenizer.file, key: "added_tokens", expected: "a list of {id, content}")
            }
            return AddedToken(id: id, content: content, special: try entry.bool("special") ?? false)
        }
    }

    // MARK: - SentencePiece-style BPE in tokenizer.json (llama_hf)

    /// gguf-py's `LlamaHfVocab` test: BPE with byte fallback and a `Sequence` decoder (not
    /// Llama 3's `ignore_merges` without byte fallback).
    static func isLlamaHF(_ tokenizer: HuggingFaceJSON) throws -> Bool {
        guard let model = try tokenizer.object("model"), try model.string("type") == "BPE" else { return false }
        if try model.bool("ignore_merges") == true, try model.bool("byte_fallback") != true { return false }
        guard try model.bool("byte_fallback") == true else { return false }
        return try tokenizer.object("decoder")?.string("type") == "Sequence"
    }

    /// `_set_vocab_llama_hf`: the base vocabulary by id, then added tokens past it; scores all
    /// −1000 (gguf-py's placeholder); `<0xNN>` tokens byte, special tokens control.
    static func llamaHF(folder: HuggingFaceFolder, tokenizer: HuggingFaceJSON, tokenizerConfig: HuggingFaceJSON?) throws -> [GGUFMetadataEntry] {
        let model = try tokenizer.object("model")!
        let base = try vocabulary(model)
        var byID: [Int: String] = [:]
        for (token, id) in base { byID[id] = token }
        let baseCount = byID.count
        guard byID.keys.allSatisfy({ $0 < baseCount }) else {
            throw HuggingFaceGGUFError.invalidValue(file: tokenizer.file, key: "model.vocab", expected: "ids 0..<\(baseCount) without gaps")
        }
        let added = try addedTokens(tokenizer)
        let specialIDs = try specialTokenIDs(tokenizerConfig: tokenizerConfig, added: added, vocabulary: byID)
        var tokens: [MetadataValue] = []
        var types: [MetadataValue] = []
        for id in 0..<baseCount {
            let token = byID[id]!
            tokens.append(.string(token))
            types.append(.int(tokenType(token, special: specialIDs.contains(id)).rawValue))
        }
        for token in added.filter({ $0.id >= baseCount }).sorted(by: { $0.id < $1.id }) {
            tokens.append(.string(token.content))
            types.append(.int((specialIDs.contains(token.id) ? tokenType(token.content, special: true) : .userDefined).rawValue))
        }
        var entries: [GGUFMetadataEntry] = [
            .string("tokenizer.ggml.model", "llama"),
            .string("tokenizer.ggml.pre", "default"),
            GGUFMetadataEntry(key: "tokenizer.ggml.tokens", type: .array, elementType: .string, value: .array(tokens)),
            GGUFMetadataEntry(key: "tokenizer.ggml.scores", type: .array, elementType: .float32,
                              value: .array(Array(repeating: .float(-1000), count: tokens.count))),
            GGUFMetadataEntry(key: "tokenizer.ggml.token_type", type: .array, elementType: .int32, value: .array(types)),
        ]
        entries += try SpecialVocabulary(folder: folder, tokenizer: tokenizer, tokenizerConfig: tokenizerConfig, vocabularySize: tokens.count, loadMerges: false).entries
        return entries
    }

    private static func tokenType(_ token: String, special: Bool) -> GGUFTokenType {
        let utf8 = Array(token.utf8)
        if utf8.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">"), utf8[3...4].allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 70) || ($0 >= 97 && $0 <= 102) }) {
            return .byte
        }
        return special ? .control : .normal
    }

    /// transformers' `all_special_ids`: the tokens `tokenizer_config.json` names as bos, eos,
    /// unk, sep, pad, cls, mask and additional special tokens.
    static func specialTokenIDs(tokenizerConfig: HuggingFaceJSON?, added: [AddedToken], vocabulary: [Int: String]) throws -> Set<Int> {
        guard let config = tokenizerConfig else { return [] }
        var contents: [String] = []
        for type in ["bos", "eos", "unk", "sep", "pad", "cls", "mask"] {
            if let content = try SpecialVocabulary.tokenContent(config, "\(type)_token") { contents.append(content) }
        }
        for key in ["additional_special_tokens", "extra_special_tokens"] {
            for node in (try? config.array(key)) ?? [] {
                if case .string(let content) = node.value { contents.append(content) }
            }
        }
        var ids = Set<Int>()
        let byContent = Dictionary(vocabulary.map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        for content in contents {
            if let token = added.first(where: { $0.content == content }) { ids.insert(token.id) } else if let id = byContent[content] { ids.insert(id) }
        }
        return ids
    }

    // MARK: - tokenizer.model (SentencePiece)

    /// `_set_vocab_sentencepiece` / `_create_vocab_sentencepiece`: pieces, scores and types
    /// from the protobuf (user-defined pieces count as normal, as the converter's checks
    /// do), padded to `vocab_size` with `[PADn]`; then `added_tokens.json` and
    /// `tokenizer_config.json`'s `added_tokens_decoder` over them.
    static func sentencePiece(folder: HuggingFaceFolder, tokenizerConfig: HuggingFaceJSON?, tokenizer: HuggingFaceJSON?) throws -> [GGUFMetadataEntry] {
        let path = folder.file("tokenizer.model")
        let pieces = try SentencePieceModel(path: path).pieces
        let count = try folder.config.integer("vocab_size") ?? pieces.count
        var tokens = (0..<count).map { "[PAD\($0)]" }
        var scores = [Float](repeating: -10000, count: count)
        var types = [GGUFTokenType](repeating: .unused, count: count)
        for (id, piece) in pieces.enumerated() where id < count {
            tokens[id] = piece.text
            scores[id] = piece.score
            types[id] = switch piece.type {
            case 2: .unknown
            case 3: .control
            case 5: .unused
            case 6: .byte
            default: .normal
            }
        }
        if let added = try folder.json("added_tokens.json") {
            for (content, node) in added.members {
                guard let id = node.nonNegativeInteger, id < count else { continue }
                tokens[id] = content
                scores[id] = -1000
                types[id] = .userDefined
            }
        }
        if let decoder = try tokenizerConfig?.object("added_tokens_decoder") {
            for (key, _) in decoder.members {
                guard let id = Int(key), id >= 0, id < count, let entry = try decoder.object(key), var content = try entry.string("content") else { continue }
                if try entry.bool("special") == true || looksSpecial(content) {
                    types[id] = .control
                } else {
                    content = content.replacingOccurrences(of: "\u{2581}", with: " ")
                    types[id] = .userDefined
                }
                scores[id] = -1000
                tokens[id] = content
            }
        }
        var entries: [GGUFMetadataEntry] = [
            .string("tokenizer.ggml.model", "llama"),
            .string("tokenizer.ggml.pre", "default"),
            GGUFMetadataEntry(key: "tokenizer.ggml.tokens", type: .array, elementType: .string, value: .array(tokens.map { .string($0) })),
            GGUFMetadataEntry(key: "tokenizer.ggml.scores", type: .array, elementType: .float32, value: .array(scores.map { .float(Double($0)) })),
            GGUFMetadataEntry(key: "tokenizer.ggml.token_type", type: .array, elementType: .int32, value: .array(types.map { .int($0.rawValue) })),
        ]
        entries += try SpecialVocabulary(folder: folder, tokenizer: tokenizer, tokenizerConfig: tokenizerConfig, vocabularySize: tokens.count, loadMerges: false).entries
        return entries
    }
}
