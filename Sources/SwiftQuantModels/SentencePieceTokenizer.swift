import SwiftQuantCore

/// The SentencePiece tokenizer a GGUF file carries (`tokenizer.ggml.model` "llama": tokens,
/// scores and token types, with `<0xXX>` byte tokens), encoding exactly as llama.cpp's SPM
/// tokenizer does: spaces become `▁` (with a leading one when `add_space_prefix`), the text
/// starts as single characters, and the adjacent pair whose concatenation is the vocabulary
/// entry with the highest score (leftmost on ties) is merged until no pair is an entry;
/// characters left outside the vocabulary become their byte tokens.
///
/// User-defined tokens (type 4) are matched in the text before that, as llama.cpp does without
/// `parse_special`; control tokens (`<s>`, `</s>`) are never parsed from text.
public struct SentencePieceTokenizer: Tokenizer {
    /// Each id's entry as UTF-8 bytes.
    let entries: [[UInt8]]
    let scores: [Float]
    /// llama.cpp's token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    let types: [Int32]
    let ids: [[UInt8]: Int32]
    /// The id of `<0xXX>` (or of the one-byte entry) for every byte, when the vocabulary has it.
    let byteIDs: [Int32?]
    /// User-defined entries, longest first (the order llama.cpp matches them in).
    let userDefined: [(bytes: [UInt8], id: Int32)]
    public let bosTokenID: Int32?
    public let eosTokenID: Int32?
    let unknownTokenID: Int32?
    let addsBOS: Bool
    let addsEOS: Bool
    let addsSpacePrefix: Bool

    static let space: [UInt8] = Array("▁".utf8)

    /// Reads `tokenizer.ggml.tokens`, `.scores`, `.token_type`, the special ids and the
    /// `add_bos_token` / `add_eos_token` / `add_space_prefix` flags from GGUF metadata.
    /// `path` is only used in messages.
    ///
    /// - Throws: ``TokenizerError`` naming the key that is missing or malformed, or the
    ///   tokenizer model when it is not "llama".
    public init(ggufMetadata metadata: [String: MetadataValue], path: String) throws(TokenizerError) {
        let model: String
        switch metadata["tokenizer.ggml.model"] {
        case .string(let name)?: model = name
        default: throw .invalidField(path: path, field: "tokenizer.ggml.model", reason: "is missing or not a string")
        }
        guard model == "llama" else {
            throw .unsupported(path: path, field: "tokenizer.ggml.model", value: "'\(printableInMessage(model))'", supported: "llama (SentencePiece)")
        }
        guard case .array(let tokenValues)? = metadata["tokenizer.ggml.tokens"], !tokenValues.isEmpty else {
            throw .invalidField(path: path, field: "tokenizer.ggml.tokens", reason: "is missing or not a non-empty array of strings")
        }
        var entries: [[UInt8]] = []
        entries.reserveCapacity(tokenValues.count)
        for value in tokenValues {
            guard case .string(let text) = value else {
                throw .invalidField(path: path, field: "tokenizer.ggml.tokens", reason: "holds \(value.display), which is not a string")
            }
            entries.append(Array(text.utf8))
        }
        func numbers(_ key: String) throws(TokenizerError) -> [Double]? {
            guard let value = metadata[key] else { return nil }
            guard case .array(let items) = value, items.count == entries.count else {
                throw .invalidField(path: path, field: key, reason: "should be an array of \(entries.count) numbers, one per token")
            }
            var result: [Double] = []
            result.reserveCapacity(items.count)
            for item in items {
                switch item {
                case .float(let v): result.append(v)
                case .int(let v): result.append(Double(v))
                case .uint(let v): result.append(Double(v))
                default: throw .invalidField(path: path, field: key, reason: "holds a value that is not a number")
                }
            }
            return result
        }
        scores = try numbers("tokenizer.ggml.scores")?.map { Float($0) } ?? [Float](repeating: 0, count: entries.count)
        let types = try numbers("tokenizer.ggml.token_type")?.map { Int32(exactly: $0) ?? 0 }
            ?? [Int32](repeating: 1, count: entries.count)
        self.types = types
        var ids: [[UInt8]: Int32] = [:]
        for (id, entry) in entries.enumerated() where ids[entry] == nil { ids[entry] = Int32(id) }
        self.entries = entries
        self.ids = ids
        let hex = Array("0123456789ABCDEF".utf8)
        byteIDs = (0..<256).map { byte in
            ids[Array("<0x".utf8) + [hex[byte >> 4], hex[byte & 15], UInt8(ascii: ">")]] ?? ids[[UInt8(byte)]]
        }
        userDefined = entries.indices.filter { types[$0] == 4 && !entries[$0].isEmpty }
            .map { (entries[$0], Int32($0)) }
            .sorted { $0.bytes.count > $1.bytes.count }
        func special(_ key: String) throws(TokenizerError) -> Int32? {
            let value: Int64
            switch metadata["tokenizer.ggml." + key] {
            case nil: return nil
            case .uint(let v)?: value = Int64(clamping: v)
            case .int(let v)?: value = v
            default: throw .invalidField(path: path, field: "tokenizer.ggml." + key, reason: "is not an integer")
            }
            guard value >= 0, value < entries.count else {
                throw .invalidField(path: path, field: "tokenizer.ggml." + key, reason: "is \(value), outside the vocabulary of \(entries.count) tokens")
            }
            return Int32(value)
        }
        func flag(_ key: String, _ fallback: Bool) -> Bool {
            if case .bool(let value)? = metadata["tokenizer.ggml." + key] { return value }
            return fallback
        }
        // llama.cpp's defaults for SPM vocabularies: <unk> 0, <s> 1, </s> 2, BOS added, EOS not.
        bosTokenID = try special("bos_token_id") ?? (entries.count > 1 ? 1 : nil)
        eosTokenID = try special("eos_token_id") ?? (entries.count > 2 ? 2 : nil)
        unknownTokenID = try special("unknown_token_id") ?? 0
        addsBOS = flag("add_bos_token", true) && bosTokenID != nil
        addsEOS = flag("add_eos_token", false) && eosTokenID != nil
        addsSpacePrefix = flag("add_space_prefix", true)
    }

    public var vocabularySize: Int { entries.count }

    /// Control and unknown tokens: what llama.cpp leaves out of text unless asked for specials.
    public var specialTokenIDs: Set<Int32> {
        Set(types.indices.filter { types[$0] == 2 || types[$0] == 3 }.map(Int32.init))
    }

    public func id(of token: String) -> Int32? { ids[Array(token.utf8)] }

    public func token(of id: Int32) -> String? {
        guard id >= 0, Int(id) < entries.count else { return nil }
        return String(decoding: entries[Int(id)], as: UTF8.self)
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        var output: [Int32] = []
        if addSpecialTokens, addsBOS, let bosTokenID { output.append(bosTokenID) }
        var previousWasSpecial = true
        for fragment in fragments(Array(text.utf8)) {
            switch fragment {
            case .token(let id):
                output.append(id)
                previousWasSpecial = true
            case .text(let bytes):
                var escaped: [UInt8] = addsSpacePrefix && previousWasSpecial ? Self.space : []
                for byte in bytes {
                    if byte == UInt8(ascii: " ") { escaped += Self.space } else { escaped.append(byte) }
                }
                output += tokenize(escaped)
                previousWasSpecial = false
            }
        }
        if addSpecialTokens, addsEOS, let eosTokenID { output.append(eosTokenID) }
        return output
    }

    private enum Fragment { case text([UInt8]), token(Int32) }

    /// The text split around user-defined tokens, each matched longest first as llama.cpp does.
    private func fragments(_ text: [UInt8]) -> [Fragment] {
        guard !text.isEmpty else { return [] }
        var pieces: [Fragment] = [.text(text)]
        for (bytes, id) in userDefined {
            var next: [Fragment] = []
            for piece in pieces {
                guard case .text(let raw) = piece else { next.append(piece); continue }
                var start = 0, index = 0
                while index + bytes.count <= raw.count {
                    if raw[index..<(index + bytes.count)].elementsEqual(bytes) {
                        if index > start { next.append(.text(Array(raw[start..<index]))) }
                        next.append(.token(id))
                        index += bytes.count
                        start = index
                    } else {
                        index += 1
                    }
                }
                if start < raw.count { next.append(.text(Array(raw[start...]))) }
            }
            pieces = next
        }
        return pieces
    }

    /// llama.cpp's `llm_tokenizer_spm_session::tokenize` on escaped text.
    private func tokenize(_ text: [UInt8]) -> [Int32] {
        // Symbols: UTF-8 characters (a stray continuation byte is a character of its own), as
        // a linked list of byte ranges.
        var starts: [Int] = [], lengths: [Int] = [], previous: [Int] = [], next: [Int] = []
        var offset = 0
        while offset < text.count {
            let lead = text[offset]
            let length = lead < 0x80 ? 1 : lead >> 5 == 0b110 ? 2 : lead >> 4 == 0b1110 ? 3 : lead >> 3 == 0b11110 ? 4 : 1
            let n = min(length, text.count - offset)
            previous.append(starts.count - 1)
            starts.append(offset)
            lengths.append(n)
            offset += n
            next.append(offset == text.count ? -1 : starts.count)
        }
        var queue = BigramQueue()
        func tryAdd(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let size = lengths[left] + lengths[right]
            guard let id = ids[Array(text[starts[left]..<(starts[left] + size)])] else { return }
            queue.push(Bigram(left: left, right: right, score: scores[Int(id)], size: size))
        }
        for index in starts.indices.dropFirst() { tryAdd(index - 1, index) }
        while let bigram = queue.pop() {
            let left = bigram.left, right = bigram.right
            guard lengths[left] > 0, lengths[right] > 0, lengths[left] + lengths[right] == bigram.size else { continue }
            lengths[left] += lengths[right]
            lengths[right] = 0
            next[left] = next[right]
            if next[right] >= 0 { previous[next[right]] = left }
            tryAdd(previous[left], left)
            tryAdd(left, next[left])
        }
        var output: [Int32] = []
        var index = starts.isEmpty ? -1 : 0
        while index >= 0 {
            let piece = Array(text[starts[index]..<(starts[index] + lengths[index])])
            if let id = ids[piece] {
                output.append(id)
            } else {
                // Only single characters can be outside the vocabulary (merges make entries).
                for byte in piece { if let id = byteIDs[Int(byte)] ?? unknownTokenID { output.append(id) } }
            }
            index = next[index]
        }
        return output
    }

    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        String(decoding: decodeBytes(ids, skipSpecialTokens: skipSpecialTokens, continuing: false), as: UTF8.self)
    }

    /// llama.cpp's `llama_detokenize`: each token's piece (`▁` as a space, byte tokens as their
    /// byte), with one leading space removed from the first piece of a sequence when the
    /// vocabulary adds a space prefix (and the sequence does not start with BOS).
    public func decodeBytes(_ ids: [Int32], skipSpecialTokens: Bool, continuing: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        var removeSpace = addsSpacePrefix && !continuing
        var tokens = ids[...]
        if skipSpecialTokens, !continuing, addsBOS, tokens.first == bosTokenID {
            removeSpace = false
            tokens = tokens.dropFirst()
        }
        for id in tokens {
            guard id >= 0, Int(id) < entries.count else { continue }
            let type = types[Int(id)]
            var piece: [UInt8]
            switch type {
            case 2, 3:
                piece = skipSpecialTokens ? [] : entries[Int(id)]
            case 4:
                piece = entries[Int(id)]
            case 6:
                piece = byteValue(entries[Int(id)]).map { [$0] } ?? []
            case 1:
                piece = unescaped(entries[Int(id)])
            default:
                piece = []
            }
            if removeSpace, piece.first == UInt8(ascii: " ") { piece.removeFirst() }
            removeSpace = false
            bytes += piece
        }
        return bytes
    }

    private func unescaped(_ entry: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < entry.count {
            if index + 3 <= entry.count, entry[index..<(index + 3)].elementsEqual(Self.space) {
                out.append(UInt8(ascii: " "))
                index += 3
            } else {
                out.append(entry[index])
                index += 1
            }
        }
        return out
    }

    /// The byte of a `<0xXX>` entry.
    private func byteValue(_ entry: [UInt8]) -> UInt8? {
        guard entry.count == 6, entry.starts(with: Array("<0x".utf8)), entry[5] == UInt8(ascii: ">") else {
            return entry.count == 1 ? entry[0] : nil
        }
        return UInt8(String(decoding: entry[3..<5], as: UTF8.self), radix: 16)
    }
}

/// A candidate merge of two adjacent symbols.
private struct Bigram {
    var left: Int
    var right: Int
    var score: Float
    var size: Int

    /// llama.cpp's order: higher score first, then the leftmost.
    func precedes(_ other: Bigram) -> Bool {
        score > other.score || (score == other.score && left < other.left)
    }
}

/// A binary max-heap of bigrams in ``Bigram/precedes(_:)`` order.
private struct BigramQueue {
    private var items: [Bigram] = []

    mutating func push(_ item: Bigram) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].precedes(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Bigram? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var best = parent
                if left < items.count, items[left].precedes(items[best]) { best = left }
                if right < items.count, items[right].precedes(items[best]) { best = right }
                if best == parent { break }
                items.swapAt(parent, best)
                parent = best
            }
        }
        return top
    }
}
