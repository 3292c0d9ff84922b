import Foundation
import SwiftQuantCore

/// A BPE tokenizer as a Hugging Face `tokenizer.json` defines it: byte-level BPE (GPT-2,
/// Llama-3, Qwen2) and SentencePiece-style BPE with byte fallback (Llama-2, Mistral).
///
/// Encoding follows `tokenizers`: added tokens are split out of the text first (longest match,
/// with their `lstrip`/`rstrip` flags), each remaining piece is normalized (`Prepend`,
/// `Replace`, `NFC`…), pre-tokenized (`Split` with the GPT-2 / Llama-3 / Qwen2 regexes,
/// `ByteLevel`, `Metaspace`), split into characters (or byte-fallback `<0xNN>` tokens) and
/// merged pair by pair in the order of `model.merges`; the post-processor's template adds BOS
/// and the like. Decoding reverses `ByteLevel` or `Replace` + `ByteFallback` + `Fuse` + `Strip`.
///
/// Vocabulary strings are compared by their UTF-8 bytes, as the reference does: Swift's
/// `String` equality would merge canonically equivalent spellings into one entry.
public struct BPETokenizer: Tokenizer {
    // MARK: Model
    /// Token id by the token's UTF-8 bytes (model vocabulary and added tokens).
    private let vocabulary: [[UInt8]: Int32]
    /// Token string by id; nil for ids nobody uses.
    private let tokens: [String?]
    /// (rank, merged id) by the pair of ids, packed `left << 32 | right`.
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    private let byteFallback: Bool
    private let unknownID: Int32?
    private let fuseUnknown: Bool
    private let ignoreMerges: Bool
    /// Id of `<0xNN>` by byte, when byte fallback is on.
    private let byteTokenIDs: [Int32?]

    // MARK: Pipeline
    private let addedTokens: [AddedToken]
    private let normalizers: [Normalizer]
    private let preTokenizers: [PreTokenizer]
    private let decoders: [DecoderStep]
    /// Ids the post-processor puts before and after the sequence.
    private let prefixIDs: [Int32]
    private let suffixIDs: [Int32]

    public let vocabularySize: Int
    public let bosTokenID: Int32?
    public let eosTokenID: Int32?
    public let specialTokenIDs: Set<Int32>

    struct AddedToken: Sendable {
        var id: Int32
        var content: [Unicode.Scalar]
        var special: Bool
        var lstrip: Bool
        var rstrip: Bool
        var singleWord: Bool
    }

    enum Normalizer: Sendable {
        case prepend([Unicode.Scalar])
        case replace(pattern: [Unicode.Scalar], content: [Unicode.Scalar])
        case nfc, nfkc, nfd, nfkd, lowercase
    }

    enum PreTokenizer: Sendable {
        case split(SplitPattern)
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
        case metaspace(replacement: Unicode.Scalar, prependScheme: String, split: Bool)
    }

    enum DecoderStep: Sendable {
        case byteLevel
        case replace(pattern: String, content: String)
        case byteFallback
        case fuse
        case strip(content: Character, start: Int, stop: Int)
        case metaspace(replacement: Character, prependScheme: String)
    }

    /// Reads a `tokenizer.json` whose `model.type` is BPE; `path` is only used in messages.
    public init(json data: Data, path: String = "tokenizer.json") throws(TokenizerError) {
        try self.init(root: try parseTokenizerJSON(data, path: path))
    }

    init(root: TokenizerJSON) throws(TokenizerError) {
        guard let model = root["model"], model.isObject else { throw root.missing("model", "an object") }
        if let type = model["type"]?.string, type != "BPE" {
            throw model["type"]!.unsupported(type, supported: "BPE")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = model[key]?.string, !value.isEmpty {
                throw model[key]!.unsupported("\"\(value)\"", supported: "null or empty")
            }
        }
        if let dropout = model["dropout"], case .number(let text) = dropout.node.value, Double(text) ?? 0 > 0 {
            throw dropout.unsupported(text, supported: "null (no BPE dropout when encoding for inference)")
        }
        guard let vocabMembers = model["vocab"]?.members else { throw model.missing("vocab", "an object") }
        var vocabulary: [[UInt8]: Int32] = [:]
        vocabulary.reserveCapacity(vocabMembers.count)
        var maxID = -1
        for (key, value) in vocabMembers {
            guard let id = value.int, id >= 0, id < Int(Int32.max) else {
                throw value.invalid("should be a non-negative token id")
            }
            vocabulary[Array(key.utf8)] = Int32(id)
            maxID = max(maxID, id)
        }
        // Added tokens: ids may lie beyond the model vocabulary.
        var added: [AddedToken] = []
        var special = Set<Int32>()
        var addedStrings: [(Int32, String)] = []
        for entry in root["added_tokens"]?.array ?? [] {
            guard let id = entry["id"]?.int, id >= 0, id < Int(Int32.max) else { throw entry.missing("id", "a token id") }
            let content = try entry.requiredString("content")
            let token = AddedToken(
                id: Int32(id), content: Array(content.unicodeScalars),
                special: try entry.optionalBool("special", default: false),
                lstrip: try entry.optionalBool("lstrip", default: false),
                rstrip: try entry.optionalBool("rstrip", default: false),
                singleWord: try entry.optionalBool("single_word", default: false))
            if token.content.isEmpty { continue }
            added.append(token)
            if token.special { special.insert(token.id) }
            addedStrings.append((token.id, content))
            maxID = max(maxID, id)
        }
        var tokens = [String?](repeating: nil, count: maxID + 1)
        for (key, value) in vocabMembers { tokens[value.int!] = key }
        for (id, content) in addedStrings {
            tokens[Int(id)] = content
            vocabulary[Array(content.utf8)] = id
        }

        // Merges: "a b" strings (older files) or ["a", "b"] pairs (tokenizers ≥ 0.20).
        var merges: [UInt64: (rank: Int32, id: Int32)] = [:]
        let mergeList = model["merges"]?.array ?? []
        merges.reserveCapacity(mergeList.count)
        for (rank, entry) in mergeList.enumerated() {
            let pair: (String, String)
            if let text = entry.string {
                let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw entry.invalid("should be two tokens separated by a space") }
                pair = (String(parts[0]), String(parts[1]))
            } else if let items = entry.array, items.count == 2, let a = items[0].string, let b = items[1].string {
                pair = (a, b)
            } else {
                throw entry.invalid("should be \"left right\" or [\"left\", \"right\"]")
            }
            guard let left = vocabulary[Array(pair.0.utf8)], let right = vocabulary[Array(pair.1.utf8)],
                  let merged = vocabulary[Array((pair.0 + pair.1).utf8)] else {
                throw entry.invalid("names a token that is not in model.vocab")
            }
            let key = UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))
            // The first (lowest-rank) occurrence of a pair wins, as in the reference.
            if merges[key] == nil { merges[key] = (Int32(rank), merged) }
        }

        byteFallback = try model.optionalBool("byte_fallback", default: false)
        fuseUnknown = try model.optionalBool("fuse_unk", default: false)
        ignoreMerges = try model.optionalBool("ignore_merges", default: false)
        if let unk = model["unk_token"]?.string {
            guard let id = vocabulary[Array(unk.utf8)] else { throw model["unk_token"]!.invalid("is not in model.vocab") }
            unknownID = id
        } else {
            unknownID = nil
        }
        byteTokenIDs = (0 ..< 256).map { byte in
            vocabulary[Array(String(format: "<0x%02X>", byte).utf8)]
        }
        self.vocabulary = vocabulary
        self.tokens = tokens
        self.merges = merges
        // Longest first, so the scan prefers the longest added token at a position.
        addedTokens = added.sorted { $0.content.count > $1.content.count }
        specialTokenIDs = special
        vocabularySize = maxID + 1

        normalizers = try Self.parseNormalizer(root["normalizer"])
        preTokenizers = try Self.parsePreTokenizer(root["pre_tokenizer"])
        decoders = try Self.parseDecoder(root["decoder"])
        (prefixIDs, suffixIDs) = try Self.parsePostProcessor(root["post_processor"])

        // BOS / EOS: the template's first special token, else the usual spellings.
        func lookup(_ names: [String]) -> Int32? {
            for name in names { if let id = vocabulary[Array(name.utf8)] { return id } }
            return nil
        }
        bosTokenID = prefixIDs.first ?? lookup(["<s>", "<|begin_of_text|>", "<bos>"])
        eosTokenID = suffixIDs.last ?? lookup(["</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>", "<|im_end|>"])
    }

    // MARK: Configuration parsing

    private static func parseNormalizer(_ node: TokenizerJSON?) throws(TokenizerError) -> [Normalizer] {
        guard let node else { return [] }
        let type = try node.requiredString("type")
        switch type {
        case "Sequence":
            var result: [Normalizer] = []
            for item in node["normalizers"]?.array ?? [] { result += try parseNormalizer(item) }
            return result
        case "Prepend":
            return [.prepend(Array(try node.requiredString("prepend").unicodeScalars))]
        case "Replace":
            guard let pattern = node["pattern"]?["String"]?.string else {
                throw node.unsupported("a Replace without a plain String pattern", supported: "{\"String\": …} patterns")
            }
            return [.replace(pattern: Array(pattern.unicodeScalars), content: Array(try node.requiredString("content").unicodeScalars))]
        case "NFC": return [.nfc]
        case "NFKC": return [.nfkc]
        case "NFD": return [.nfd]
        case "NFKD": return [.nfkd]
        case "Lowercase": return [.lowercase]
        default:
            throw node["type"]!.unsupported(type, supported: "Sequence, Prepend, Replace, NFC, NFKC, NFD, NFKD, Lowercase")
        }
    }

    private static func parsePreTokenizer(_ node: TokenizerJSON?) throws(TokenizerError) -> [PreTokenizer] {
        guard let node else { return [] }
        let type = try node.requiredString("type")
        switch type {
        case "Sequence":
            var result: [PreTokenizer] = []
            for item in node["pretokenizers"]?.array ?? [] { result += try parsePreTokenizer(item) }
            return result
        case "ByteLevel":
            return [.byteLevel(addPrefixSpace: try node.optionalBool("add_prefix_space", default: true),
                               useRegex: try node.optionalBool("use_regex", default: true))]
        case "Split":
            let behavior = node["behavior"]?.string ?? "Isolated"
            guard behavior == "Isolated" else { throw node["behavior"]!.unsupported(behavior, supported: "Isolated") }
            if try node.optionalBool("invert", default: false) { throw node["invert"]!.unsupported("true", supported: "false") }
            if let regex = node["pattern"]?["Regex"]?.string { return [.split(SplitPattern(pattern: regex))] }
            if let plain = node["pattern"]?["String"]?.string {
                return [.split(.regex(NSRegularExpression.escapedPattern(for: plain)))]
            }
            throw node.missing("pattern", "{\"Regex\": …} or {\"String\": …}")
        case "Metaspace":
            let replacement = try node.requiredString("replacement").unicodeScalars.first ?? "▁"
            var scheme = node["prepend_scheme"]?.string ?? "always"
            if node["prepend_scheme"] == nil, let addPrefix = node["add_prefix_space"]?.bool, !addPrefix { scheme = "never" }
            return [.metaspace(replacement: replacement, prependScheme: scheme,
                               split: try node.optionalBool("split", default: true))]
        default:
            throw node["type"]!.unsupported(type, supported: "Sequence, ByteLevel, Split (Isolated), Metaspace")
        }
    }

    private static func parseDecoder(_ node: TokenizerJSON?) throws(TokenizerError) -> [DecoderStep] {
        guard let node else { return [] }
        let type = try node.requiredString("type")
        switch type {
        case "Sequence":
            var result: [DecoderStep] = []
            for item in node["decoders"]?.array ?? [] { result += try parseDecoder(item) }
            return result
        case "ByteLevel": return [.byteLevel]
        case "ByteFallback": return [.byteFallback]
        case "Fuse": return [.fuse]
        case "Replace":
            guard let pattern = node["pattern"]?["String"]?.string else {
                throw node.unsupported("a Replace without a plain String pattern", supported: "{\"String\": …} patterns")
            }
            return [.replace(pattern: pattern, content: try node.requiredString("content"))]
        case "Strip":
            let content = try node.requiredString("content")
            guard let character = content.first else { throw node.missing("content", "one character") }
            return [.strip(content: character, start: node["start"]?.int ?? 0, stop: node["stop"]?.int ?? 0)]
        case "Metaspace":
            let replacement = try node.requiredString("replacement").first ?? "▁"
            var scheme = node["prepend_scheme"]?.string ?? "always"
            if node["prepend_scheme"] == nil, let addPrefix = node["add_prefix_space"]?.bool, !addPrefix { scheme = "never" }
            return [.metaspace(replacement: replacement, prependScheme: scheme)]
        default:
            throw node["type"]!.unsupported(type, supported: "Sequence, ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace")
        }
    }

    /// The ids the single-sequence template puts before and after `$A`.
    private static func parsePostProcessor(_ node: TokenizerJSON?) throws(TokenizerError) -> ([Int32], [Int32]) {
        guard let node else { return ([], []) }
        let type = try node.requiredString("type")
        switch type {
        case "Sequence":
            var before: [Int32] = [], after: [Int32] = []
            for item in node["processors"]?.array ?? [] {
                let (b, a) = try parsePostProcessor(item)
                before += b
                after = a + after
            }
            return (before, after)
        case "ByteLevel":
            return ([], [])
        case "TemplateProcessing":
            guard let single = node["single"]?.array else { throw node.missing("single", "an array") }
            var specials: [String: [Int32]] = [:]
            for (name, value) in node["special_tokens"]?.members ?? [] {
                specials[name] = (value["ids"]?.array ?? []).compactMap { $0.int.map(Int32.init) }
            }
            var before: [Int32] = [], after: [Int32] = []
            var seenSequence = false
            for piece in single {
                if piece["Sequence"] != nil { seenSequence = true; continue }
                guard let name = piece["SpecialToken"]?["id"]?.string, let ids = specials[name] else {
                    throw piece.invalid("should be a Sequence or a SpecialToken listed in special_tokens")
                }
                if seenSequence { after += ids } else { before += ids }
            }
            return (before, after)
        case "BertProcessing", "RobertaProcessing":
            guard let cls = node["cls"]?.array, cls.count == 2, let clsID = cls[1].int,
                  let sep = node["sep"]?.array, sep.count == 2, let sepID = sep[1].int else {
                throw node.missing("cls", "[token, id] pairs in cls and sep")
            }
            return ([Int32(clsID)], [Int32(sepID)])
        default:
            throw node["type"]!.unsupported(type, supported: "TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence")
        }
    }

    // MARK: Encoding

    public func id(of token: String) -> Int32? { vocabulary[Array(token.utf8)] }

    public func token(of id: Int32) -> String? {
        id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        var ids: [Int32] = addSpecialTokens ? prefixIDs : []
        let scalars = Array(text.unicodeScalars)
        var cache: [[UInt8]: [Int32]] = [:]
        for piece in splitAddedTokens(scalars) {
            switch piece {
            case .added(let id):
                ids.append(id)
            case .text(let range, let isFirst):
                let normalized = normalize(Array(scalars[range]))
                for word in preTokenize(normalized, isFirst: isFirst) where !word.isEmpty {
                    let key = Array(String(String.UnicodeScalarView(word)).utf8)
                    if let cached = cache[key] { ids += cached; continue }
                    let wordIDs = bpe(word)
                    cache[key] = wordIDs
                    ids += wordIDs
                }
            }
        }
        if addSpecialTokens { ids += suffixIDs }
        return ids
    }

    enum Piece { case added(Int32), text(Range<Int>, isFirst: Bool) }

    /// The text split around added tokens: at each position the longest added token that
    /// matches wins; `lstrip` / `rstrip` take the whitespace beside it into the token.
    private func splitAddedTokens(_ text: [Unicode.Scalar]) -> [Piece] {
        var pieces: [Piece] = []
        var textStart = 0
        var i = 0
        let n = text.count
        func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
            s.properties.isAlphabetic || s.properties.numericType != nil || s == "_"
        }
        while i < n {
            var matched: AddedToken?
            for token in addedTokens where token.content.count <= n - i && token.content[0] == text[i] {
                if text[i ..< i + token.content.count].elementsEqual(token.content) {
                    if token.singleWord {
                        let end = i + token.content.count
                        if i > 0 && isWordCharacter(text[i - 1]) { continue }
                        if end < n && isWordCharacter(text[end]) { continue }
                    }
                    matched = token
                    break
                }
            }
            guard let token = matched else { i += 1; continue }
            var start = i
            var end = i + token.content.count
            if token.lstrip { while start > textStart && text[start - 1].properties.isWhitespace { start -= 1 } }
            if token.rstrip { while end < n && text[end].properties.isWhitespace { end += 1 } }
            if start > textStart { pieces.append(.text(textStart ..< start, isFirst: textStart == 0)) }
            pieces.append(.added(token.id))
            textStart = end
            i = end
        }
        if textStart < n { pieces.append(.text(textStart ..< n, isFirst: textStart == 0)) }
        return pieces
    }

    private func normalize(_ input: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var text = input
        for step in normalizers {
            switch step {
            case .prepend(let prefix):
                if !text.isEmpty { text = prefix + text }
            case .replace(let pattern, let content):
                text = replaceAll(text, pattern, with: content)
            case .nfc: text = Array(String(String.UnicodeScalarView(text)).precomposedStringWithCanonicalMapping.unicodeScalars)
            case .nfkc: text = Array(String(String.UnicodeScalarView(text)).precomposedStringWithCompatibilityMapping.unicodeScalars)
            case .nfd: text = Array(String(String.UnicodeScalarView(text)).decomposedStringWithCanonicalMapping.unicodeScalars)
            case .nfkd: text = Array(String(String.UnicodeScalarView(text)).decomposedStringWithCompatibilityMapping.unicodeScalars)
            case .lowercase: text = text.flatMap { Array($0.properties.lowercaseMapping.unicodeScalars) }
            }
        }
        return text
    }

    /// The words BPE runs on, each already in the model's alphabet.
    private func preTokenize(_ text: [Unicode.Scalar], isFirst: Bool) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = [text]
        for step in preTokenizers {
            switch step {
            case .split(let pattern):
                words = words.flatMap { splitKeepingGaps($0, pattern) }
            case .byteLevel(let addPrefixSpace, let useRegex):
                if addPrefixSpace, let first = words.first, let c = first.first, !c.properties.isWhitespace {
                    words[0] = [" "] + first
                }
                if useRegex { words = words.flatMap { splitKeepingGaps($0, .gpt2) } }
                words = words.map { word in
                    var mapped: [Unicode.Scalar] = []
                    for scalar in word { UTF8.encode(scalar) { mapped.append(byteToUnicode[Int($0)]) } }
                    return mapped
                }
            case .metaspace(let replacement, let scheme, let split):
                words = words.enumerated().flatMap { index, word -> [[Unicode.Scalar]] in
                    var w = word.map { $0 == " " ? replacement : $0 }
                    let prepend = scheme == "always" || (scheme == "first" && isFirst && index == 0)
                    if prepend, w.first != replacement { w.insert(replacement, at: 0) }
                    guard split else { return [w] }
                    // Split before each replacement character (MergedWithNext).
                    var parts: [[Unicode.Scalar]] = []
                    var current: [Unicode.Scalar] = []
                    for s in w {
                        if s == replacement && !current.isEmpty { parts.append(current); current = [] }
                        current.append(s)
                    }
                    if !current.isEmpty { parts.append(current) }
                    return parts
                }
            }
        }
        return words
    }

    private func splitKeepingGaps(_ word: [Unicode.Scalar], _ pattern: SplitPattern) -> [[Unicode.Scalar]] {
        var parts: [[Unicode.Scalar]] = []
        var last = 0
        for range in pattern.matches(in: word) {
            if range.lowerBound > last { parts.append(Array(word[last ..< range.lowerBound])) }
            parts.append(Array(word[range]))
            last = range.upperBound
        }
        if last < word.count { parts.append(Array(word[last...])) }
        return parts
    }

    /// BPE over one word: characters (or byte tokens) merged by rank, lowest first, leftmost
    /// first among equal ranks.
    private func bpe(_ word: [Unicode.Scalar]) -> [Int32] {
        if ignoreMerges, let id = vocabulary[Array(String(String.UnicodeScalarView(word)).utf8)] { return [id] }
        var symbols: [Int32] = []
        var lastWasUnknown = false
        for scalar in word {
            var utf8: [UInt8] = []
            UTF8.encode(scalar) { utf8.append($0) }
            if let id = vocabulary[utf8] {
                symbols.append(id)
                lastWasUnknown = false
            } else if byteFallback, utf8.allSatisfy({ byteTokenIDs[Int($0)] != nil }) {
                symbols += utf8.map { byteTokenIDs[Int($0)]! }
                lastWasUnknown = false
            } else if let unknownID {
                if !(fuseUnknown && lastWasUnknown) { symbols.append(unknownID) }
                lastWasUnknown = true
            }
        }
        while symbols.count > 1 {
            var best: (rank: Int32, id: Int32, at: Int)?
            for k in 0 ..< symbols.count - 1 {
                let key = UInt64(UInt32(symbols[k])) << 32 | UInt64(UInt32(symbols[k + 1]))
                if let merge = merges[key], best == nil || merge.rank < best!.rank {
                    best = (merge.rank, merge.id, k)
                }
            }
            guard let best else { break }
            symbols[best.at] = best.id
            symbols.remove(at: best.at + 1)
        }
        return symbols
    }

    // MARK: Decoding

    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var pieces = tokenStrings(ids, skipSpecialTokens: skipSpecialTokens)
        for step in decoders {
            switch step {
            case .byteLevel:
                var bytes: [UInt8] = []
                for piece in pieces {
                    let mapped = piece.unicodeScalars.map { unicodeToByte[$0] }
                    if mapped.allSatisfy({ $0 != nil }) { bytes += mapped.map { $0! } } else { bytes += Array(piece.utf8) }
                }
                pieces = [String(decoding: bytes, as: UTF8.self)]
            case .replace(let pattern, let content):
                pieces = pieces.map { $0.replacingOccurrences(of: pattern, with: content, options: .literal) }
            case .byteFallback:
                var result: [String] = []
                var bytes: [UInt8] = []
                func flush() {
                    guard !bytes.isEmpty else { return }
                    if let text = String(validating: bytes, as: UTF8.self) {
                        result.append(text)
                    } else {
                        result += Array(repeating: "\u{FFFD}", count: bytes.count)
                    }
                    bytes.removeAll()
                }
                for piece in pieces {
                    if let byte = Self.fallbackByte(piece) { bytes.append(byte) } else { flush(); result.append(piece) }
                }
                flush()
                pieces = result
            case .fuse:
                pieces = [pieces.joined()]
            case .strip(let content, let start, let stop):
                pieces = pieces.map { piece in
                    var chars = Array(piece)
                    var s = 0
                    while s < start && s < chars.count && chars[s] == content { s += 1 }
                    chars.removeFirst(s)
                    var e = 0
                    while e < stop && !chars.isEmpty && chars.last == content { chars.removeLast(); e += 1 }
                    return String(chars)
                }
            case .metaspace(let replacement, let scheme):
                pieces = pieces.enumerated().map { index, piece in
                    // As the reference: in the first token every replacement character goes.
                    let first = index == 0 && scheme != "never"
                    return piece.replacingOccurrences(of: String(replacement), with: first ? "" : " ", options: .literal)
                }
            }
        }
        return decoders.isEmpty ? pieces.joined(separator: " ") : pieces.joined()
    }

    public func decodeBytes(_ ids: [Int32], skipSpecialTokens: Bool, continuing: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        var atStart = !continuing
        for piece in tokenStrings(ids, skipSpecialTokens: skipSpecialTokens) {
            var pieceBytes: [UInt8] = []
            var text = piece
            var handled = false
            for step in decoders {
                switch step {
                case .byteLevel:
                    let mapped = text.unicodeScalars.map { unicodeToByte[$0] }
                    pieceBytes = mapped.allSatisfy({ $0 != nil }) ? mapped.map { $0! } : Array(text.utf8)
                    handled = true
                case .replace(let pattern, let content):
                    text = text.replacingOccurrences(of: pattern, with: content, options: .literal)
                case .byteFallback:
                    if let byte = Self.fallbackByte(text) { pieceBytes = [byte]; handled = true }
                case .fuse:
                    break
                case .strip(let content, let start, _):
                    // After Fuse this strips the start of the whole text: only the first piece.
                    if atStart && !handled {
                        var s = 0
                        while s < start, text.first == content { text.removeFirst(); s += 1 }
                    }
                case .metaspace(let replacement, let scheme):
                    let first = atStart && scheme != "never"
                    text = text.replacingOccurrences(of: String(replacement), with: first ? "" : " ", options: .literal)
                }
            }
            if !handled { pieceBytes = Array(text.utf8) }
            if decoders.isEmpty && !atStart { bytes.append(UInt8(ascii: " ")) }
            bytes += pieceBytes
            if !pieceBytes.isEmpty || !decoders.isEmpty { atStart = false }
        }
        return bytes
    }

    private func tokenStrings(_ ids: [Int32], skipSpecialTokens: Bool) -> [String] {
        ids.compactMap { id in
            if skipSpecialTokens && specialTokenIDs.contains(id) { return nil }
            return token(of: id)
        }
    }

    /// The byte of a `<0xNN>` token.
    private static func fallbackByte(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"),
              u[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: u[3 ..< 5], as: UTF8.self), radix: 16)
    }
}

/// GPT-2's printable stand-in for each byte: printable Latin-1 bytes stand for themselves, the
/// others (controls, space, 0x7F–0xA0, 0xAD) map to U+0100 onwards in byte order.
let byteToUnicode: [Unicode.Scalar] = {
    var table = [Unicode.Scalar](repeating: " ", count: 256)
    var next: UInt32 = 256
    for byte in 0 ..< 256 {
        let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
        if printable {
            table[byte] = Unicode.Scalar(UInt32(byte))!
        } else {
            table[byte] = Unicode.Scalar(next)!
            next += 1
        }
    }
    return table
}()

/// The inverse of ``byteToUnicode``.
let unicodeToByte: [Unicode.Scalar: UInt8] = {
    var map: [Unicode.Scalar: UInt8] = [:]
    for (byte, scalar) in byteToUnicode.enumerated() { map[scalar] = UInt8(byte) }
    return map
}()

/// Parses `tokenizer.json` bytes.
func parseTokenizerJSON(_ data: Data, path: String) throws(TokenizerError) -> TokenizerJSON {
    let result: Result<JSONNode, JSONSyntaxError> = data.withUnsafeBytes { buffer in
        do throws(JSONSyntaxError) { return .success(try JSONParser.parse(buffer)) } catch { return .failure(error) }
    }
    switch result {
    case .success(let node):
        let root = TokenizerJSON(node: node, field: "", path: path)
        guard root.isObject else { throw .invalidField(path: path, field: "(root)", reason: "should be an object") }
        return root
    case .failure(let error):
        throw .invalidJSON(path: path, offset: error.offset, reason: error.reason)
    }
}

/// `text` with every non-overlapping occurrence of `pattern` (left to right) replaced.
func replaceAll(_ text: [Unicode.Scalar], _ pattern: [Unicode.Scalar], with content: [Unicode.Scalar]) -> [Unicode.Scalar] {
    guard !pattern.isEmpty, text.count >= pattern.count else { return text }
    var result: [Unicode.Scalar] = []
    result.reserveCapacity(text.count)
    var i = 0
    while i < text.count {
        if i + pattern.count <= text.count && text[i ..< i + pattern.count].elementsEqual(pattern) {
            result += content
            i += pattern.count
        } else {
            result.append(text[i])
            i += 1
        }
    }
    return result
}
