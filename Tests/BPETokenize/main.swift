// Test-only executable for Tests/Interop/check_bpe_tokenizer.py: encodes and decodes every text
// of an expected.json with a tokenizer.json and prints the results as the same JSON shape.
import Foundation
import SwiftQuant

let arguments = CommandLine.arguments
guard arguments.count == 3, let corpus = FileManager.default.contents(atPath: arguments[2]),
      let cases = try? JSONSerialization.jsonObject(with: corpus) as? [[String: Any]] else {
    FileHandle.standardError.write(Data("usage: bpe-tokenize TOKENIZER_JSON EXPECTED_JSON\n".utf8))
    exit(2)
}
do {
    let tokenizer = try loadTokenizer(json: FileManager.default.contents(atPath: arguments[1]) ?? Data(), path: arguments[1])
    var results: [[String: Any]] = []
    for entry in cases {
        let hex = Array((entry["text_hex"] as? String ?? "").utf8)
        let bytes = stride(from: 0, to: hex.count - 1, by: 2).map { UInt8(String(decoding: hex[$0 ... $0 + 1], as: UTF8.self), radix: 16) ?? 0 }
        let text = String(decoding: bytes, as: UTF8.self)
        let ids = tokenizer.encode(text, addSpecialTokens: true)
        var stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: false)
        var streamed = ids.map { stream.append($0) }.joined()
        streamed += stream.finish()
        results.append([
            "ids": ids.map(Int.init), "plain_ids": tokenizer.encode(text, addSpecialTokens: false).map(Int.init),
            "decoded": tokenizer.decode(ids, skipSpecialTokens: false),
            "decoded_skipping": tokenizer.decode(ids, skipSpecialTokens: true), "streamed": streamed,
        ])
    }
    FileHandle.standardOutput.write(try JSONSerialization.data(withJSONObject: results))
} catch {
    FileHandle.standardError.write(Data("bpe-tokenize: \(error)\n".utf8))
    exit(1)
}
