import Foundation
import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantNN

/// BERT's uncased WordPiece tokenizer, as the model's `tokenizer.json` defines it.
///
/// Normalization (BertNormalizer): drop NUL, U+FFFD and every control, format, unassigned or
/// private-use character except tab, newline and carriage return; turn whitespace into spaces;
/// put spaces around CJK ideographs; decompose (NFD) and drop non-spacing marks (accents);
/// lower-case each code point. Pre-tokenization: split on whitespace, then split off each
/// punctuation character (Unicode `P*` and every ASCII symbol). WordPiece: greedy
/// longest-match-first against `vocab.txt`, continuations prefixed `##`; a word longer than
/// 100 code points or with an unmatched piece becomes `[UNK]`. The ids are framed by
/// `[CLS]` … `[SEP]` and truncated to `maxLength` tokens in all.
///
/// Strings are compared by their exact code points, as the reference does: Swift's `String`
/// equality would treat canonically equivalent spellings (decomposed Hangul and precomposed
/// syllables, say) as one vocabulary entry.
public struct WordPieceTokenizer: Sendable {
    /// Token id by the token's UTF-8 bytes.
    let vocabulary: [[UInt8]: Int32]
    /// The number of lines in `vocab.txt`.
    public let vocabularySize: Int
    /// The id of `[CLS]`, which starts every sequence.
    public let classifierTokenID: Int32
    /// The id of `[SEP]`, which ends every sequence.
    public let separatorTokenID: Int32
    /// The id of `[UNK]`, for words WordPiece cannot spell.
    public let unknownTokenID: Int32
    /// Words longer than this many code points become `[UNK]`.
    public let maximumWordLength = 100

    /// Reads `vocab.txt`: one token per line, the line number is the id.
    public init(vocabularyFile path: String) throws(MiniLMError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .cannotRead(path: path, what: "the WordPiece vocabulary")
        }
        try self.init(vocabularyData: data, path: path)
    }

    /// Parses the contents of a `vocab.txt`; `path` is only used in messages.
    public init(vocabularyData data: Data, path: String = "vocab.txt") throws(MiniLMError) {
        var vocabulary: [[UInt8]: Int32] = [:]
        var id: Int32 = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            // A later duplicate wins, as in the reference loader.
            vocabulary[Array(line)] = id
            id += 1
        }
        // A final newline ends the last line; it does not start an empty token.
        if data.last == UInt8(ascii: "\n") { id -= 1 }
        func lookup(_ token: String) throws(MiniLMError) -> Int32 {
            guard let value = vocabulary[Array(token.utf8)] else {
                throw .missingSpecialToken(path: path, token: token)
            }
            return value
        }
        self.vocabulary = vocabulary
        vocabularySize = Int(id)
        classifierTokenID = try lookup("[CLS]")
        separatorTokenID = try lookup("[SEP]")
        unknownTokenID = try lookup("[UNK]")
    }

    /// The ids of `text`: `[CLS]`, the word pieces, `[SEP]`, at most `maxLength` in all.
    public func encode(_ text: String, maxLength: Int = 256) -> [Int32] {
        var ids: [Int32] = [classifierTokenID]
        let budget = max(0, maxLength - 2)
        outer: for word in preTokenize(text) {
            for id in wordPieces(word) {
                if ids.count - 1 == budget { break outer }
                ids.append(id)
            }
        }
        ids.append(separatorTokenID)
        return ids
    }

    /// The token id of an exact vocabulary entry, or `nil`.
    public func id(of token: String) -> Int32? {
        vocabulary[Array(token.utf8)]
    }

    /// Normalized words and punctuation, before WordPiece.
    public func preTokenize(_ text: String) -> [[Unicode.Scalar]] {
        var cleaned = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD || isControl(scalar) { continue }
            if isWhitespace(scalar) {
                cleaned.append(" ")
            } else if isCJKIdeograph(scalar) {
                cleaned.append(" ")
                cleaned.append(scalar)
                cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        let decomposed = String(cleaned).decomposedStringWithCanonicalMapping
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        func endWord() {
            if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
        }
        for scalar in decomposed.unicodeScalars where scalar.properties.generalCategory != .nonspacingMark {
            for lower in scalar.properties.lowercaseMapping.unicodeScalars {
                if isSeparator(lower) {
                    endWord()
                } else if isPunctuation(lower) {
                    endWord()
                    words.append([lower])
                } else {
                    current.append(lower)
                }
            }
        }
        endWord()
        return words
    }

    /// Greedy longest-match-first pieces of one word.
    func wordPieces(_ word: [Unicode.Scalar]) -> [Int32] {
        if word.count > maximumWordLength { return [unknownTokenID] }
        // UTF-8 offset of each scalar boundary, so candidate pieces are byte slices.
        var bytes: [UInt8] = []
        var boundaries: [Int] = [0]
        for scalar in word {
            UTF8.encode(scalar) { bytes.append($0) }
            boundaries.append(bytes.count)
        }
        var pieces: [Int32] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var match: Int32?
            while start < end {
                var candidate: [UInt8] = start > 0 ? [0x23, 0x23] : []
                candidate.append(contentsOf: bytes[boundaries[start] ..< boundaries[end]])
                if let id = vocabulary[candidate] {
                    match = id
                    break
                }
                end -= 1
            }
            guard let match else { return [unknownTokenID] }
            pieces.append(match)
            start = end
        }
        return pieces
    }
}

/// Space, tab, newline, carriage return and the space separators (`Zs`).
func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case " ", "\t", "\n", "\r": return true
    default: return scalar.properties.generalCategory == .spaceSeparator
    }
}

/// What splits words after cleaning: Unicode `White_Space` (line and paragraph separators are
/// whitespace there but not `Zs`, so cleaning keeps them).
func isSeparator(_ scalar: Unicode.Scalar) -> Bool {
    scalar.properties.isWhitespace
}

/// Every `C*` category except tab, newline and carriage return, which count as whitespace.
func isControl(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case "\t", "\n", "\r": return false
    default: break
    }
    switch scalar.properties.generalCategory {
    case .control, .format, .unassigned, .privateUse, .surrogate: return true
    default: return false
    }
}

/// Unicode punctuation, plus every non-alphanumeric ASCII symbol (`$`, `+`, `^`, `` ` `` …).
func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
    let v = scalar.value
    if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
        return true
    }
    switch scalar.properties.generalCategory {
    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
         .initialPunctuation, .finalPunctuation, .otherPunctuation:
        return true
    default:
        return false
    }
}

/// The CJK Unified Ideographs blocks BERT pads with spaces (not Hiragana, Katakana or Hangul).
func isCJKIdeograph(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
         0x2B740...0x2B81F, 0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
        return true
    default:
        return false
    }
}
