import Foundation
import SwiftQuantCore

/// The tokenizer a GGUF file's `tokenizer.ggml.*` keys describe: ``SentencePieceTokenizer`` for
/// `tokenizer.ggml.model` "llama", a byte-level ``BPETokenizer`` for "gpt2" with one of the
/// pre-tokenizers llama.cpp names `gpt-2`, `llama-bpe` (Llama 3) and `qwen2`
/// (`tokenizer.ggml.pre`); other models and pre-tokenizers are refused in one line.
///
/// For "gpt2", control and user-defined tokens (token types 3 and 4) are added tokens matched in
/// text, as the `tokenizers` package does; llama.cpp matches only the user-defined ones unless
/// asked to parse specials. `path` is only used in messages.
public func loadTokenizer(ggufMetadata metadata: [String: MetadataValue], path: String) throws(TokenizerError) -> any Tokenizer {
    guard case .string(let model)? = metadata["tokenizer.ggml.model"] else {
        throw .invalidField(path: path, field: "tokenizer.ggml.model", reason: "is missing or not a string")
    }
    switch model {
    case "llama":
        return try SentencePieceTokenizer(ggufMetadata: metadata, path: path)
    case "gpt2":
        return try BPETokenizer(json: try byteLevelTokenizerJSON(metadata, path: path), path: path)
    default:
        throw .unsupported(path: path, field: "tokenizer.ggml.model", value: "'\(printableInMessage(model))'",
                           supported: "llama (SentencePiece), gpt2 (byte-level BPE)")
    }
}

/// The `tokenizer.json` equivalent of a GGUF "gpt2" vocabulary.
private func byteLevelTokenizerJSON(_ metadata: [String: MetadataValue], path: String) throws(TokenizerError) -> Data {
    let pre: String
    switch metadata["tokenizer.ggml.pre"] {
    case .string(let name)?: pre = name
    default: pre = "gpt-2"
    }
    let pattern: String
    switch pre {
    case "gpt-2": pattern = SplitPattern.gpt2Pattern
    case "llama-bpe", "llama3": pattern = SplitPattern.llama3Pattern
    case "qwen2": pattern = SplitPattern.qwen2Pattern
    default:
        throw .unsupported(path: path, field: "tokenizer.ggml.pre", value: "'\(printableInMessage(pre))'",
                           supported: "gpt-2, llama-bpe, qwen2")
    }
    func strings(_ key: String) throws(TokenizerError) -> [String] {
        guard case .array(let items)? = metadata[key] else {
            throw .invalidField(path: path, field: key, reason: "is missing or not an array of strings")
        }
        var result: [String] = []
        for item in items {
            guard case .string(let text) = item else {
                throw .invalidField(path: path, field: key, reason: "holds \(item.display), which is not a string")
            }
            result.append(text)
        }
        return result
    }
    let tokens = try strings("tokenizer.ggml.tokens")
    let merges = try strings("tokenizer.ggml.merges")
    var types = [Int64](repeating: 1, count: tokens.count)
    if case .array(let items)? = metadata["tokenizer.ggml.token_type"], items.count == tokens.count {
        for (index, item) in items.enumerated() {
            switch item {
            case .int(let v): types[index] = v
            case .uint(let v): types[index] = Int64(clamping: v)
            default: break
            }
        }
    }
    var vocab: [String: Int] = [:]
    var added: [[String: Any]] = []
    for (id, token) in tokens.enumerated() where vocab[token] == nil {
        vocab[token] = id
        if types[id] == 3 || types[id] == 4 {
            added.append(["id": id, "content": token, "special": types[id] == 3, "lstrip": false, "rstrip": false,
                          "single_word": false, "normalized": false])
        }
    }
    func id(_ key: String) -> Int? {
        switch metadata["tokenizer.ggml." + key] {
        case .uint(let v)?: return v < UInt64(tokens.count) ? Int(v) : nil
        case .int(let v)?: return v >= 0 && v < Int64(tokens.count) ? Int(v) : nil
        default: return nil
        }
    }
    func flag(_ key: String, _ fallback: Bool) -> Bool {
        if case .bool(let value)? = metadata["tokenizer.ggml." + key] { return value }
        return fallback
    }
    var root: [String: Any] = [
        // llama.cpp, like Llama 3's tokenizer.json, takes a whole piece that is a token as is.
        "model": ["type": "BPE", "vocab": vocab, "merges": merges, "byte_fallback": false,
                  "ignore_merges": pattern == SplitPattern.llama3Pattern],
        "added_tokens": added,
        "pre_tokenizer": ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": pattern], "behavior": "Isolated", "invert": false],
            ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false],
        ]],
        "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
    ]
    var single: [[String: Any]] = [["Sequence": ["id": "A", "type_id": 0]]]
    var specials: [String: Any] = [:]
    if flag("add_bos_token", false), let bos = id("bos_token_id") {
        single.insert(["SpecialToken": ["id": tokens[bos], "type_id": 0]], at: 0)
        specials[tokens[bos]] = ["id": tokens[bos], "ids": [bos], "tokens": [tokens[bos]]]
    }
    if flag("add_eos_token", false), let eos = id("eos_token_id") {
        single.append(["SpecialToken": ["id": tokens[eos], "type_id": 0]])
        specials[tokens[eos]] = ["id": tokens[eos], "ids": [eos], "tokens": [tokens[eos]]]
    }
    root["post_processor"] = ["type": "TemplateProcessing", "single": single, "pair": single, "special_tokens": specials]
    do {
        return try JSONSerialization.data(withJSONObject: root)
    } catch {
        throw .invalidField(path: path, field: "tokenizer.ggml.tokens", reason: "cannot be represented as tokenizer.json: \(error)")
    }
}
