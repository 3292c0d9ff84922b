import Foundation

/// Text to token ids and back, as a model's `tokenizer.json` defines it.
///
/// Both BERT's ``WordPieceTokenizer`` and ``BPETokenizer`` (GPT-2 / Llama-3 / Qwen2 byte-level BPE
/// and Llama-2 / Mistral SentencePiece-style BPE) conform; ``loadTokenizer(folder:)`` and
/// ``loadTokenizer(json:path:)`` pick the right one from `model.type`.
///
/// The protocol is deliberately small: what a generation loop needs (encode the prompt, know
/// the end-of-sequence ids, turn generated ids back into text, whole or as a stream through
/// ``StreamingDetokenizer``).
public protocol Tokenizer: Sendable {
    /// The ids of `text`. With `addSpecialTokens`, the post-processor's template is applied
    /// (for example Llama's BOS id first, BERT's `[CLS]` … `[SEP]`), as `tokenizers`'
    /// `encode(text, add_special_tokens=True)` does.
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int32]

    /// The text of `ids`, as `tokenizers`' `decode(ids, skip_special_tokens:)` returns it.
    /// Ids outside the vocabulary are skipped.
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String

    /// The UTF-8 bytes `ids` decode to, which may end inside a character (a byte-level token
    /// can carry half of an emoji). `continuing` says these ids follow earlier ones of the same
    /// sequence, so rules that apply at the start of a sequence only (SentencePiece's leading
    /// space strip) do not apply again. ``StreamingDetokenizer`` is built on this.
    func decodeBytes(_ ids: [Int32], skipSpecialTokens: Bool, continuing: Bool) -> [UInt8]

    /// The number of ids: the model vocabulary plus added tokens beyond it.
    var vocabularySize: Int { get }

    /// The id of the beginning-of-sequence token, if the tokenizer has one.
    var bosTokenID: Int32? { get }

    /// The id of the end-of-sequence token, if the tokenizer has one. Generation configs may
    /// name more stop ids; this is the tokenizer's own.
    var eosTokenID: Int32? { get }

    /// The ids of special tokens (`added_tokens` marked `special`), which
    /// `skipSpecialTokens` drops when decoding.
    var specialTokenIDs: Set<Int32> { get }

    /// The id of an exact vocabulary or added-token entry (`"<s>"`, `"Ġthe"`), or `nil`.
    func id(of token: String) -> Int32?

    /// The vocabulary entry of `id` as written in `tokenizer.json`, or `nil` if out of range.
    func token(of id: Int32) -> String?
}

extension Tokenizer {
    /// The ids of `text` with the post-processor's special tokens (BOS and the like).
    public func encode(_ text: String) -> [Int32] { encode(text, addSpecialTokens: true) }

    /// The text of `ids`, special tokens included.
    public func decode(_ ids: [Int32]) -> String { decode(ids, skipSpecialTokens: false) }
}

/// Turns generated ids into text as they arrive, emitting only complete UTF-8 characters:
/// a byte-level or byte-fallback token can end in the middle of a character, whose remaining
/// bytes come with the next tokens.
///
/// ```swift
/// var stream = StreamingDetokenizer(tokenizer: tokenizer)
/// for id in generatedIDs { print(stream.append(id), terminator: "") }
/// print(stream.finish())
/// ```
/// The concatenated output equals `tokenizer.decode(allIDs, skipSpecialTokens:)` whenever the
/// ids decode to valid UTF-8.
public struct StreamingDetokenizer: Sendable {
    /// The tokenizer whose ids are decoded.
    public let tokenizer: any Tokenizer
    /// Whether special tokens are left out of the text.
    public let skipSpecialTokens: Bool
    /// Bytes of a character that has not been completed yet.
    private var pending: [UInt8] = []
    /// Whether any id has been decoded (the start-of-sequence rules apply to the first only).
    private var started = false

    /// A stream for `tokenizer`; nothing has been decoded yet.
    public init(tokenizer: any Tokenizer, skipSpecialTokens: Bool = true) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Decodes one more id and returns the text that is now complete (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        append(contentsOf: [id])
    }

    /// Decodes more ids and returns the text that is now complete (possibly empty).
    public mutating func append(contentsOf ids: [Int32]) -> String {
        let bytes = tokenizer.decodeBytes(ids, skipSpecialTokens: skipSpecialTokens, continuing: started)
        if !ids.isEmpty { started = true }
        pending.append(contentsOf: bytes)
        let complete = completeUTF8Prefix(pending)
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// The text of bytes still held (an incomplete character at the end of generation decodes
    /// to U+FFFD); the stream is empty afterwards.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}

/// The length of the longest prefix of `bytes` that does not end inside a UTF-8 character
/// which later bytes could still complete. Invalid bytes count as complete (they will decode
/// to U+FFFD whatever follows), so a stream never holds more than 3 bytes back.
func completeUTF8Prefix(_ bytes: [UInt8]) -> Int {
    let count = bytes.count
    // Look at most 3 bytes back for the lead byte of an unfinished character.
    var index = count - 1
    var continuationBytes = 0
    while index >= 0 && continuationBytes < 3 && bytes[index] & 0xC0 == 0x80 {
        continuationBytes += 1
        index -= 1
    }
    guard index >= 0 else { return count }
    let lead = bytes[index]
    let needed: Int
    switch lead {
    case 0xC2...0xDF: needed = 1
    case 0xE0...0xEF: needed = 2
    case 0xF0...0xF4: needed = 3
    default: return count
    }
    return continuationBytes < needed ? index : count
}
