import Foundation
import Testing
import SwiftQuant

/// Token ids looked up by hand: the line number of each expected piece in the real vocab.txt,
/// read here with a plain line split, independently of the tokenizer's own loading.
struct HandVocabulary {
    let ids: [String: Int32]

    init() throws {
        let text = try String(contentsOfFile: miniLMDirectory + "/vocab.txt", encoding: .utf8)
        var ids: [String: Int32] = [:]
        for (line, token) in text.components(separatedBy: "\n").enumerated() where ids[token] == nil {
            ids[token] = Int32(line)
        }
        self.ids = ids
    }

    /// `[CLS] pieces… [SEP]`.
    func framed(_ pieces: [String]) -> [Int32] {
        [ids["[CLS]"]!] + pieces.map { ids[$0]! } + [ids["[SEP]"]!]
    }
}

@Suite("WordPiece tokenizer")
struct WordPieceTokenizerTests {
    let tokenizer: WordPieceTokenizer
    let vocabulary: HandVocabulary

    init() throws {
        tokenizer = try WordPieceTokenizer(vocabularyFile: miniLMDirectory + "/vocab.txt")
        vocabulary = try HandVocabulary()
    }

    @Test("The well-known BERT uncased ids")
    func knownIDs() {
        // bert-base-uncased: [CLS] 101, hello 7592, "," 1010, world 2088, "!" 999, [SEP] 102.
        #expect(tokenizer.encode("Hello, world!") == [101, 7592, 1010, 2088, 999, 102])
        #expect(tokenizer.vocabularySize == 30522)
        #expect(tokenizer.unknownTokenID == 100)
    }

    @Test("Lower-casing, accents, punctuation, numbers, CJK, word pieces", arguments: [
        ("Café NAÏVE", ["cafe", "naive"]),
        ("I paid $5.50", ["i", "paid", "$", "5", ".", "50"]),
        ("don't", ["don", "'", "t"]),
        ("中文", ["中", "文"]),
        ("tokenization", ["token", "##ization"]),
        ("unaffable", ["una", "##ffa", "##ble"]),
        ("A man is playing a guitar.", ["a", "man", "is", "playing", "a", "guitar", "."]),
        // Control and format characters vanish (NUL, zero-width space), so the word is joined.
        ("a\u{0}b\u{200B}c", ["abc"]),
        // Tabs, newlines and no-break spaces separate words.
        ("hello\tworld\nthe\u{00A0}end", ["hello", "world", "the", "end"]),
        // A final capital sigma lowers to σ code point by code point, as tokenizer.json does.
        ("ΟΔ Σ", ["ο", "##δ", "σ"]),
    ])
    func pieces(text: String, expected: [String]) {
        #expect(tokenizer.encode(text) == vocabulary.framed(expected), "\(text)")
    }

    @Test("Unknown words and words over 100 characters become [UNK]")
    func unknown() {
        #expect(tokenizer.encode("😀") == [101, 100, 102])
        #expect(tokenizer.encode(String(repeating: "a", count: 101)) == [101, 100, 102])
        #expect(tokenizer.encode(String(repeating: "a", count: 100)).count > 3)
    }

    @Test("Empty and whitespace-only text is [CLS] [SEP]")
    func empty() {
        #expect(tokenizer.encode("") == [101, 102])
        #expect(tokenizer.encode(" \t\n ") == [101, 102])
    }

    @Test("Truncation keeps [CLS] + maxLength − 2 pieces + [SEP]")
    func truncation() {
        let ids = tokenizer.encode(Array(repeating: "hello", count: 300).joined(separator: " "), maxLength: 256)
        #expect(ids.count == 256)
        #expect(ids.first == 101 && ids.last == 102)
        #expect(ids[1..<255].allSatisfy { $0 == 7592 })
        #expect(tokenizer.encode("hello world", maxLength: 3) == [101, 7592, 102])
    }

    @Test("Greedy longest match first, on a vocabulary built here")
    func greedyLongestMatch() throws {
        let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "unaff", "##aff", "##able", "##a", "##ble"]
        let tokenizer = try WordPieceTokenizer(vocabularyData: Data((vocab.joined(separator: "\n") + "\n").utf8))
        #expect(tokenizer.vocabularySize == vocab.count)
        // "unaff" beats "un"; then "##able" beats "##a".
        #expect(tokenizer.encode("unaffable") == [2, 5, 7, 3])
        // A word with an unmatched remainder is [UNK] as a whole, not partly matched.
        #expect(tokenizer.encode("unx") == [2, 1, 3])
    }

    @Test("A vocabulary without the special tokens is rejected with a one-line error")
    func missingSpecialToken() {
        #expect(throws: MiniLMError.missingSpecialToken(path: "vocab.txt", token: "[SEP]")) {
            try WordPieceTokenizer(vocabularyData: Data("[PAD]\n[UNK]\n[CLS]\nhello\n".utf8))
        }
        #expect(throws: MiniLMError.cannotRead(path: "/nonexistent/vocab.txt", what: "the WordPiece vocabulary")) {
            try WordPieceTokenizer(vocabularyFile: "/nonexistent/vocab.txt")
        }
    }
}
