import Foundation
import Testing
@testable import SwiftQuantModels
import SwiftQuant

/// A hand-built SentencePiece-style BPE: byte fallback for "€" only, <unk> fused, `<s>` special.
private func fixture(merges: String) -> Data {
    Data("""
    {"added_tokens": [{"id": 9, "content": "<s>", "special": true, "lstrip": false, "rstrip": false,
                       "normalized": false, "single_word": false}],
     "normalizer": null, "pre_tokenizer": null, "post_processor": null,
     "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]},
     "model": {"type": "BPE", "byte_fallback": true, "fuse_unk": true, "unk_token": "<unk>",
               "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5, "<0xE2>": 6, "<0x82>": 7,
                         "<0xAC>": 8, "<s>": 9, "<unk>": 10},
               "merges": \(merges)}}
    """.utf8)
}

@Suite struct BPETokenizerTests {
    @Test func mergesApplyInRankOrder() throws {
        // "b c" ranks first, so "abc" becomes a + bc, then "a bc" → abc.
        let first = try loadTokenizer(json: fixture(merges: #"["b c", "a b", "a bc"]"#))
        #expect(first.encode("abc", addSpecialTokens: false) == [5])
        // With "a b" first and no "ab c" merge, "abc" stops at ab + c.
        let second = try loadTokenizer(json: fixture(merges: #"[["a", "b"], ["b", "c"], ["a", "bc"]]"#))
        #expect(second.encode("abc", addSpecialTokens: false) == [3, 2])
    }

    @Test func byteFallbackUnknownAndSpecialTokens() throws {
        let tokenizer = try loadTokenizer(json: fixture(merges: "[]"))
        // € is E2 82 AC; x and y have neither a token nor byte tokens: one fused <unk>.
        #expect(tokenizer.encode("a€xyb", addSpecialTokens: false) == [0, 6, 7, 8, 10, 1])
        #expect(tokenizer.encode("a<s>b", addSpecialTokens: false) == [0, 9, 1])
        #expect(tokenizer.decode([0, 6, 7, 8, 1], skipSpecialTokens: false) == "a€b")
        #expect(tokenizer.decode([0, 9, 1], skipSpecialTokens: true) == "ab")
        #expect(tokenizer.decode([0, 9, 1], skipSpecialTokens: false) == "a<s>b")
        #expect(tokenizer.specialTokenIDs == [9])
        #expect(tokenizer.id(of: "<0xE2>") == 6 && tokenizer.token(of: 5) == "abc")
    }

    @Test func streamingWaitsForCompleteCharacters() throws {
        let tokenizer = try loadTokenizer(json: fixture(merges: "[]"))
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(stream.append(0) == "a")
        #expect(stream.append(6) == "")
        #expect(stream.append(7) == "")
        #expect(stream.append(8) == "€")
        #expect(stream.append(6) == "")
        // A character cut off at the end comes out as U+FFFD.
        #expect(stream.finish() == "\u{FFFD}")
        #expect(completeUTF8Prefix([0x61, 0xF0, 0x9F, 0x99]) == 1)
        #expect(completeUTF8Prefix([0x61, 0xF0, 0x9F, 0x99, 0x82]) == 5)
        #expect(completeUTF8Prefix([0x61, 0xFF]) == 2)
    }

    @Test func unsupportedModelsAreRefusedInOneLine() {
        let unigram = Data(#"{"model": {"type": "Unigram", "vocab": []}}"#.utf8)
        #expect(throws: TokenizerError.unsupported(path: "t.json", field: "model.type", value: "Unigram",
                                                   supported: "BPE, WordPiece")) {
            try loadTokenizer(json: unigram, path: "t.json")
        }
        #expect(throws: TokenizerError.self) { try loadTokenizer(json: Data("{".utf8)) }
        let badMerge = fixture(merges: #"["a zz"]"#)
        #expect(throws: TokenizerError.invalidField(path: "tokenizer.json", field: "model.merges[0]",
                                                    reason: "names a token that is not in model.vocab")) {
            try loadTokenizer(json: badMerge)
        }
    }

    /// The hand-written scanner against Swift's regex engine running the same patterns.
    @Test(arguments: [SplitPattern.gpt2Pattern, SplitPattern.llama3Pattern, SplitPattern.qwen2Pattern])
    func scannerAgreesWithRegex(pattern: String) {
        let texts = ["Hello, world!  It's 12345 and 'LL\n\n  x\t\ty", "日本語 🙂👍🏽 ça  \n \r\n end  ",
                     "def f(x):\n    return x**2\n", " ?!  a1b2 ''s 'Re", "", "   "]
        for text in texts {
            let scalars = Array(text.unicodeScalars)
            #expect(SplitPattern(pattern: pattern).matches(in: scalars) == SplitPattern.regex(pattern).matches(in: scalars),
                    "\(text.debugDescription)")
        }
    }

    /// Ids, decoding and streaming against the `tokenizers` package on the corpus that
    /// Tests/Interop/check_bpe_tokenizer.py writes (tokenizers trained there, at test time).
    @Test func matchesTokenizersPackage() throws {
        let folder = temporaryFolder()
        let script = CLIRunner.repositoryRoot.appendingPathComponent("Tests/Interop/check_bpe_tokenizer.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--write", folder]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "python3 check_bpe_tokenizer.py --write failed (is `tokenizers` installed? see Tests/setup.sh)")
        for name in ["gpt2", "llama2", "llama3", "metaspace", "qwen2"] {
            let tokenizer = try loadTokenizer(folder: folder + "/" + name)
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name + "/expected.json"))
            let cases = try JSONDecoder().decode([Case].self, from: data)
            #expect(cases.count > 90)
            var mismatches = 0
            for item in cases {
                let text = item.text
                let ids = tokenizer.encode(text, addSpecialTokens: true)
                var stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: false)
                let streamed = ids.map { stream.append($0) }.joined() + stream.finish()
                if ids != item.ids || tokenizer.encode(text, addSpecialTokens: false) != item.plain_ids
                    || tokenizer.decode(ids, skipSpecialTokens: false) != item.decoded
                    || tokenizer.decode(ids, skipSpecialTokens: true) != item.decoded_skipping
                    || streamed != item.decoded {
                    mismatches += 1
                    Issue.record("\(name): \(text.debugDescription)")
                }
            }
            #expect(mismatches == 0, "\(name)")
        }
    }

    private struct Case: Decodable {
        var text_hex: String
        var ids: [Int32]
        var plain_ids: [Int32]
        var decoded: String
        var decoded_skipping: String
        var text: String {
            let hex = Array(text_hex.utf8)
            let bytes = stride(from: 0, to: hex.count - 1, by: 2).map {
                UInt8(String(decoding: hex[$0 ... $0 + 1], as: UTF8.self), radix: 16) ?? 0
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
