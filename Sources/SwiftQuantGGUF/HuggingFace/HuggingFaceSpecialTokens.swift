import SwiftQuantCore

/// A Hugging Face folder's special tokens and tokenizer flags as GGUF `tokenizer.*` entries,
/// worked out exactly as gguf-py's `SpecialVocab` (`gguf-py/gguf/vocab.py`, which
/// `convert_hf_to_gguf.py` uses) does.
///
/// Sources, in order: `tokenizer.json` (the normalizer's lowercase/strip-accents flags, the
/// post-processor's template: whether BOS/EOS/SEP are added and which tokens they are),
/// `tokenizer_config.json` (the `*_token` strings looked up in `tokenizer.json`'s
/// `added_tokens`, `add_*_token` flags, `chat_template`), then `config.json`'s
/// `*_token_id`. The first id found for a type wins; ids at or past the vocabulary size are
/// skipped, as gguf-py skips them.
struct HuggingFaceSpecialTokens {
    /// Special token ids by type (`bos`, `eos`, `unk`, `sep`, `pad`, `cls`, `mask`, `eot`, `eom`),
    /// in the order they were found.
    private(set) var ids: [(type: String, id: Int)] = []
    /// `add_<type>_token` flags, in the order they were first set.
    private(set) var addFlags: [(type: String, value: Bool)] = []
    private(set) var chatTemplate: String?
    private(set) var lowercase: Bool?
    private(set) var stripAccents: Bool?

    private var types = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]
    private let vocabularySize: Int?

    /// A token string from `tokenizer_config.json` as Python sees it: a string, or some other
    /// truthy value (an `AddedToken` object) that equals no token id.
    private enum ConfigToken: Equatable {
        case text(String)
        case other
        var isTruthy: Bool { self != .text("") }
        func equals(_ id: String) -> Bool { self == .text(id) }
    }

    /// Reads the folder's files; a missing file contributes nothing, a malformed one throws.
    init(folder: HuggingFaceFolder, vocabularySize: Int?) throws {
        self.vocabularySize = vocabularySize
        let tokenizer = folder.has("tokenizer.json") ? try HuggingFaceJSON.parse(contentsOf: folder.file("tokenizer.json")) : nil
        let configPath = folder.file("tokenizer_config.json")
        let config = folder.has("tokenizer_config.json") ? try HuggingFaceJSON.parse(contentsOf: configPath) : nil
        try readTokenizerFiles(tokenizer: tokenizer, config: config, configPath: configPath)
        try readModelConfig(HuggingFaceJSON.parse(contentsOf: folder.file("config.json")), path: folder.file("config.json"))
    }

    /// The GGUF entries, in gguf-py's order: ids, add flags, chat template, normalizer flags.
    var entries: [GGUFMetadataEntry] {
        var entries: [GGUFMetadataEntry] = []
        for (type, id) in ids {
            // gguf-py has no writer method for `cls` (it logs "No handler" and skips it).
            guard let key = Self.idKeys[type] else { continue }
            entries.append(GGUFMetadataEntry(key: key, type: .uint32, value: .uint(UInt64(id))))
        }
        for (type, value) in addFlags {
            guard ["bos", "eos", "sep"].contains(type) else { continue }
            entries.append(GGUFMetadataEntry(key: "tokenizer.ggml.add_\(type)_token", type: .bool, value: .bool(value)))
        }
        if let chatTemplate {
            entries.append(GGUFMetadataEntry(key: "tokenizer.chat_template", type: .string, value: .string(chatTemplate)))
        }
        if let lowercase {
            entries.append(GGUFMetadataEntry(key: "tokenizer.ggml.normalizer.lowercase", type: .bool, value: .bool(lowercase)))
        }
        if let stripAccents {
            entries.append(GGUFMetadataEntry(key: "tokenizer.ggml.normalizer.strip_accents", type: .bool, value: .bool(stripAccents)))
        }
        return entries
    }

    /// gguf-py's key for each special token type it writes.
    private static let idKeys: [String: String] = [
        "bos": "tokenizer.ggml.bos_token_id", "eos": "tokenizer.ggml.eos_token_id",
        "unk": "tokenizer.ggml.unknown_token_id", "sep": "tokenizer.ggml.seperator_token_id",
        "pad": "tokenizer.ggml.padding_token_id", "mask": "tokenizer.ggml.mask_token_id",
        "eot": "tokenizer.ggml.eot_token_id", "eom": "tokenizer.ggml.eom_token_id",
    ]

    // MARK: - gguf-py's _try_load_from_tokenizer_json

    private mutating func readTokenizerFiles(tokenizer: JSONNode?, config: JSONNode?, configPath: String) throws(HuggingFaceGGUFError) {
        // Python's `if not tokenizer_config`: absent or an empty object.
        let hasConfig = !(config?.members?.isEmpty ?? true)
        var overrides: [String: ConfigToken] = [:]
        func token(_ type: String) -> ConfigToken? {
            if let override = overrides[type] { return override }
            guard let node = config?["\(type)_token"], !node.isNull else { return nil }
            if let text = node.stringValue { return .text(text) }
            return .other
        }
        func truthy(_ value: ConfigToken?) -> Bool { value?.isTruthy ?? false }
        func matches(_ id: String, _ candidates: ConfigToken?...) -> Bool { candidates.contains { $0?.equals(id) ?? false } }

        var addedTokens: [JSONNode] = []
        if let tokenizer {
            if let normalizer = tokenizer["normalizer"], normalizer.members?.isEmpty == false {
                readNormalizer(normalizer)
            }
            addedTokens = tokenizer["added_tokens"]?.arrayValue ?? []

            var bos = token("bos"), cls = token("cls"), eos = token("eos"), sep = token("sep")
            if !truthy(bos) && truthy(cls) && hasConfig { overrides["bos"] = cls; bos = cls }
            if !truthy(eos) && truthy(sep) && hasConfig { overrides["eos"] = sep; eos = sep }
            if let postProcessor = tokenizer["post_processor"], postProcessor.members?.isEmpty == false {
                for processor in postProcessor["processors"]?.arrayValue ?? [postProcessor] {
                    switch processor["type"]?.stringValue {
                    case "ByteLevel":
                        setDefaultFlag("bos", false)
                        setDefaultFlag("eos", false)
                    case "RobertaProcessing":
                        setFlag("bos", true)
                        setFlag("eos", true)
                        setFlag("sep", true)
                        if !truthy(cls) && hasConfig {
                            cls = processor["cls"]?.arrayValue?.first?.stringValue.map(ConfigToken.text) ?? bos
                            overrides["cls"] = cls
                        }
                        if !truthy(sep) && hasConfig {
                            sep = processor["sep"]?.arrayValue?.first?.stringValue.map(ConfigToken.text) ?? eos
                            overrides["sep"] = sep
                        }
                    case "TemplateProcessing":
                        let single = processor["single"]?.arrayValue ?? []
                        let pair = processor["pair"]?.arrayValue ?? []
                        var first: String?
                        var last: String?
                        if single.count > 1 {
                            if let id = Self.specialTokenID(single[0]) {
                                first = id
                                if !hasConfig {
                                    bos = .text(id)
                                } else if !matches(id, bos, cls) {
                                    if !truthy(bos) { bos = .text(id); overrides["bos"] = bos }
                                    if !truthy(cls) { cls = .text(id); overrides["cls"] = cls }
                                }
                                setFlag("bos", matches(id, bos, cls))
                            }
                            if let id = Self.specialTokenID(single[single.count - 1]) {
                                last = id
                                if !hasConfig {
                                    eos = .text(id)
                                } else if !matches(id, eos) {
                                    if !types.contains("eot") {
                                        types.append("eot")
                                        overrides["eot"] = eos
                                    } else if !types.contains("eom") {
                                        types.append("eom")
                                        overrides["eom"] = eos
                                    }
                                    eos = .text(id)
                                    overrides["eos"] = eos
                                }
                                setFlag("eos", matches(id, eos))
                            }
                        }
                        if !pair.isEmpty {
                            let start = first != nil && Self.specialTokenID(pair[0]) == first ? 1 : 0
                            let stop = last != nil && Self.specialTokenID(pair[pair.count - 1]) == last ? pair.count - 1 : pair.count
                            let middle = start < stop ? Array(pair[start ..< stop]) : []
                            if let a = middle.first, let b = middle.last,
                               a["Sequence"]?["id"]?.stringValue == "A", b["Sequence"]?["id"]?.stringValue == "B",
                               middle.count > 2 {
                                let between = Array(middle[1 ..< middle.count - 1])
                                var addSeparator = false
                                if let id = Self.specialTokenID(between[0]), matches(id, sep, eos), last == nil {
                                    addSeparator = true
                                }
                                if between.count == 2, let id = Self.specialTokenID(between[1]), matches(id, sep, eos) {
                                    addSeparator = true
                                }
                                setFlag("sep", addSeparator)
                                if addSeparator && !truthy(sep) && hasConfig { overrides["sep"] = eos }
                            }
                        }
                    default:
                        break
                    }
                }
            }
        }
        guard hasConfig, let config else { return }

        if let template = config["chat_template"]?.stringValue { chatTemplate = template }
        for type in types {
            if let flag = config["add_\(type)_token"]?.boolValue, !addFlags.contains(where: { $0.type == type }) {
                addFlags.append((type, flag))
            }
            let content: String
            switch token(type) {
            case .text(let text)?: content = text
            case .other?:
                // An AddedToken object: its `content` (overrides are always strings).
                guard let text = config["\(type)_token"]?["content"]?.stringValue else { continue }
                content = text
            case nil: continue
            }
            let id = addedTokens.first { $0["content"]?.stringValue == content }?["id"]?.integerValue
            try setSpecialToken(type, id, path: configPath, key: "\(type)_token")
        }
    }

    /// The `{"SpecialToken": {"id": …}}` id of a template piece, when it is a non-empty string.
    private static func specialTokenID(_ piece: JSONNode) -> String? {
        guard let id = piece["SpecialToken"]?["id"]?.stringValue, !id.isEmpty else { return nil }
        return id
    }

    /// gguf-py's `_parse_normalizer`: `Lowercase`, `StripAccents`, `BertNormalizer`'s flags,
    /// and the same inside a `Sequence`.
    private mutating func readNormalizer(_ normalizer: JSONNode) {
        switch normalizer["type"]?.stringValue {
        case "Lowercase": lowercase = true
        case "StripAccents": stripAccents = true
        case "BertNormalizer":
            if let flag = normalizer["lowercase"] { lowercase = flag.boolValue }
            if let flag = normalizer["strip_accents"] { stripAccents = flag.boolValue }
        case "Sequence":
            for inner in normalizer["normalizers"]?.arrayValue ?? [] { readNormalizer(inner) }
        default: break
        }
    }

    // MARK: - gguf-py's _try_load_from_config_json

    private mutating func readModelConfig(_ config: JSONNode, path: String) throws(HuggingFaceGGUFError) {
        for type in types {
            var node = config["\(type)_token_id"]
            if node == nil || node!.isNull { node = config["text_config"]?["\(type)_token_id"] }
            try setSpecialToken(type, node?.integerValue, path: path, key: "\(type)_token_id")
        }
    }

    private mutating func setSpecialToken(_ type: String, _ id: Int?, path: String, key: String) throws(HuggingFaceGGUFError) {
        guard let id else { return }
        guard id >= 0 else { throw .invalidValue(file: path, key: key, expected: "a token id (not negative)") }
        if let vocabularySize, id >= vocabularySize { return }
        if !ids.contains(where: { $0.type == type }) { ids.append((type, id)) }
    }

    private mutating func setFlag(_ type: String, _ value: Bool) {
        if let index = addFlags.firstIndex(where: { $0.type == type }) {
            addFlags[index].value = value
        } else {
            addFlags.append((type, value))
        }
    }

    private mutating func setDefaultFlag(_ type: String, _ value: Bool) {
        if !addFlags.contains(where: { $0.type == type }) { addFlags.append((type, value)) }
    }
}
