import Foundation
import SwiftQuantCore

/// gguf-py's `SpecialVocab` without the merges: special token ids, add-bos/eos/sep flags, the
/// chat template and the normalizer flags, from `tokenizer.json`, `tokenizer_config.json`,
/// `chat_template.jinja`/`.json` and `config.json`, with the same precedence.
struct SpecialVocabulary {
    private(set) var ids: [(type: String, id: Int)] = []
    private(set) var add: [(type: String, value: Bool)] = []
    private(set) var chatTemplate: String?
    private(set) var lowercase: Bool?
    private(set) var stripAccents: Bool?
    private var types = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]
    private let vocabularySize: Int?
    private let tokenizerConfigPath: String

    /// A token named in `tokenizer_config.json`: a string, or an object with `content`.
    static func tokenContent(_ config: HuggingFaceJSON, _ key: String) throws -> String? {
        if case .string(let content)? = config.node(key)?.value { return content }
        if let object = try? config.object(key) { return try object.string("content") }
        return nil
    }

    init(folder: HuggingFaceFolder, tokenizer: HuggingFaceJSON?, tokenizerConfig: HuggingFaceJSON?, vocabularySize: Int?, loadMerges: Bool = true) throws {
        self.vocabularySize = vocabularySize
        tokenizerConfigPath = folder.file("tokenizer_config.json")
        var added: [HuggingFaceVocabulary.AddedToken] = []
        // What tokenizer_config.json says, as the converter rewrites it while reading the post-processor.
        var configured: [String: String] = [:]
        let hasConfig = tokenizerConfig != nil
        if let tokenizerConfig {
            for type in types + ["eot", "eom"] {
                if let content = try Self.tokenContent(tokenizerConfig, "\(type)_token") { configured[type] = content }
            }
        }
        if let tokenizer {
            if let normalizer = try tokenizer.object("normalizer") { try parseNormalizer(normalizer) }
            added = try HuggingFaceVocabulary.addedTokens(tokenizer)
            try readPostProcessor(tokenizer, configured: &configured, hasConfig: hasConfig)
        }
        if let tokenizerConfig {
            if let template = try tokenizerConfig.string("chat_template") {
                chatTemplate = template
            } else if folder.has("chat_template.jinja") {
                chatTemplate = try String(contentsOfFile: folder.file("chat_template.jinja"), encoding: .utf8)
            } else if let json = try folder.json("chat_template.json") {
                chatTemplate = try json.string("chat_template")
            }
            for type in types {
                if let flag = try? tokenizerConfig.bool("add_\(type)_token"), !add.contains(where: { $0.type == type }) {
                    add.append((type, flag))
                }
                guard let content = configured[type] else { continue }
                if let id = added.first(where: { $0.content == content })?.id { try set(type, id) }
            }
        }
        for type in types {
            if let id = try? folder.config.integer("\(type)_token_id") { try set(type, id) }
        }
    }

    private mutating func set(_ type: String, _ id: Int) throws {
        guard id >= 0 else {
            throw HuggingFaceGGUFError.invalidValue(file: tokenizerConfigPath, key: "\(type)_token", expected: "a non-negative token id")
        }
        if let vocabularySize, id >= vocabularySize { return }  // the converter skips it with a warning
        if ids.contains(where: { $0.type == type }) { return }
        ids.append((type, id))
    }

    private mutating func setAdd(_ type: String, _ value: Bool, onlyIfUnset: Bool = false) {
        if let index = add.firstIndex(where: { $0.type == type }) {
            if !onlyIfUnset { add[index].value = value }
        } else {
            add.append((type, value))
        }
    }

    private mutating func parseNormalizer(_ normalizer: HuggingFaceJSON) throws {
        switch try normalizer.string("type") {
        case "Lowercase": lowercase = true
        case "StripAccents": stripAccents = true
        case "BertNormalizer":
            if let value = try normalizer.bool("lowercase") { lowercase = value }
            if let value = try normalizer.bool("strip_accents") { stripAccents = value }
        case "Sequence":
            for inner in try normalizer.objects("normalizers") ?? [] { try parseNormalizer(inner) }
        default: break
        }
    }

    /// The post-processor's add-bos/eos/sep flags (`_try_load_from_tokenizer_json`).
    private mutating func readPostProcessor(_ tokenizer: HuggingFaceJSON, configured: inout [String: String], hasConfig: Bool) throws {
        guard let post = try tokenizer.object("post_processor") else { return }
        if configured["bos"] == nil, let cls = configured["cls"], hasConfig { configured["bos"] = cls }
        if configured["eos"] == nil, let sep = configured["sep"], hasConfig { configured["eos"] = sep }
        let processors = try post.objects("processors") ?? [post]
        let specialID = { (item: HuggingFaceJSON?) throws -> String? in
            guard let item, let special = try item.object("SpecialToken") else { return nil }
            return try special.string("id").flatMap { $0.isEmpty ? nil : $0 }
        }
        for processor in processors {
            switch try processor.string("type") {
            case "ByteLevel":
                setAdd("bos", false, onlyIfUnset: true)
                setAdd("eos", false, onlyIfUnset: true)
            case "RobertaProcessing":
                setAdd("bos", true)
                setAdd("eos", true)
                setAdd("sep", true)
            case "TemplateProcessing":
                let single = try processor.objects("single") ?? []
                let pair = try processor.objects("pair") ?? []
                var first: String?
                var last: String?
                if single.count > 1 {
                    if let special = try specialID(single.first) {
                        first = special
                        if !hasConfig {
                            configured["bos"] = special
                        } else if special != configured["bos"] && special != configured["cls"] {
                            if configured["bos"] == nil { configured["bos"] = special }
                            if configured["cls"] == nil { configured["cls"] = special }
                        }
                        setAdd("bos", special == configured["bos"] || special == configured["cls"])
                    }
                    if let special = try specialID(single.last) {
                        last = special
                        if !hasConfig {
                            configured["eos"] = special
                        } else if special != configured["eos"] {
                            let previous = configured["eos"]
                            if !types.contains("eot") {
                                types.append("eot")
                                configured["eot"] = previous
                            } else if !types.contains("eom") {
                                types.append("eom")
                                configured["eom"] = previous
                            }
                            configured["eos"] = special
                        }
                        setAdd("eos", special == configured["eos"])
                    }
                }
                guard !pair.isEmpty else { continue }
                let pairFirst = try specialID(pair.first), pairLast = try specialID(pair.last)
                let start = first != nil && pairFirst == first ? 1 : 0
                let stop = last != nil && pairLast == last ? pair.count - 1 : pair.count
                guard start < stop else { continue }
                let middle = Array(pair[start..<stop])
                let a = try middle.first?.object("Sequence")?.string("id")
                let b = try middle.last?.object("Sequence")?.string("id")
                guard a == "A", b == "B", middle.count > 2 else { continue }
                let between = Array(middle[1..<(middle.count - 1)])
                var addSeparator = false
                let separators = [configured["sep"], configured["eos"]]
                if let special = try specialID(between.first), separators.contains(special), last == nil { addSeparator = true }
                if between.count == 2, let special = try specialID(between[1]), separators.contains(special) { addSeparator = true }
                setAdd("sep", addSeparator)
                if addSeparator, configured["sep"] == nil, hasConfig { configured["sep"] = configured["eos"] }
            default:
                continue
            }
        }
    }

    /// The entries in gguf-py's order: ids, add flags, chat template, normalizer.
    var entries: [GGUFMetadataEntry] {
        let idKeys = ["bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id", "sep": "seperator_token_id",
                      "pad": "padding_token_id", "mask": "mask_token_id", "eot": "eot_token_id", "eom": "eom_token_id"]
        var out: [GGUFMetadataEntry] = []
        for (type, id) in ids {
            // No key for cls: gguf-py has no writer method for it and skips it.
            if let key = idKeys[type] { out.append(.uint32("tokenizer.ggml.\(key)", id)) }
        }
        for (type, value) in add where ["bos", "eos", "sep"].contains(type) {
            out.append(.bool("tokenizer.ggml.add_\(type)_token", value))
        }
        if let chatTemplate { out.append(.string("tokenizer.chat_template", chatTemplate)) }
        if let lowercase { out.append(.bool("tokenizer.ggml.normalizer.lowercase", lowercase)) }
        if let stripAccents { out.append(.bool("tokenizer.ggml.normalizer.strip_accents", stripAccents)) }
        return out
    }
}

/// The pieces of a SentencePiece `tokenizer.model` (a `ModelProto`: field 1 holds the pieces,
/// each with its text (1), score (2) and type (3, normal when absent)).
struct SentencePieceModel {
    struct Piece {
        var text: String
        var score: Float
        var type: Int
    }

    let pieces: [Piece]

    init(path: String) throws {
        let file = try MappedFile(path: path)
        var pieces: [Piece] = []
        let malformed = HuggingFaceGGUFError.unreadableFile(path: path, reason: "not a SentencePiece model (malformed protobuf)")
        var reader = ProtobufReader(bytes: file.bytes)
        while !reader.atEnd {
            guard let (field, wire) = reader.tag() else { throw malformed }
            if field == 1 && wire == 2 {
                guard let message = reader.lengthDelimited() else { throw malformed }
                var inner = ProtobufReader(bytes: message)
                var piece = Piece(text: "", score: 0, type: 1)
                while !inner.atEnd {
                    guard let (innerField, innerWire) = inner.tag() else { throw malformed }
                    switch (innerField, innerWire) {
                    case (1, 2):
                        guard let text = inner.lengthDelimited() else { throw malformed }
                        piece.text = String(decoding: text, as: UTF8.self)
                    case (2, 5):
                        guard let bits = inner.fixed32() else { throw malformed }
                        piece.score = Float(bitPattern: bits)
                    case (3, 0):
                        guard let value = inner.varint() else { throw malformed }
                        piece.type = Int(truncatingIfNeeded: value)
                    default:
                        guard inner.skip(wire: innerWire) else { throw malformed }
                    }
                }
                pieces.append(piece)
            } else {
                guard reader.skip(wire: wire) else { throw malformed }
            }
        }
        guard !pieces.isEmpty else { throw HuggingFaceGGUFError.unreadableFile(path: path, reason: "a SentencePiece model without pieces") }
        self.pieces = pieces
    }
}

/// Reads protobuf wire format, bounds-checked: every read returns `nil` past the end.
struct ProtobufReader {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    var atEnd: Bool { position >= bytes.count }

    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.count, shift < 64 {
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    mutating func tag() -> (field: UInt64, wire: UInt64)? {
        guard let key = varint() else { return nil }
        return (key >> 3, key & 7)
    }

    mutating func lengthDelimited() -> UnsafeRawBufferPointer? {
        guard let length = varint(), length <= UInt64(bytes.count - position) else { return nil }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position..<position + Int(length)])
        position += Int(length)
        return slice
    }

    mutating func fixed32() -> UInt32? {
        guard bytes.count - position >= 4 else { return nil }
        defer { position += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    mutating func skip(wire: UInt64) -> Bool {
        switch wire {
        case 0: return varint() != nil
        case 1:
            guard bytes.count - position >= 8 else { return false }
            position += 8
            return true
        case 2: return lengthDelimited() != nil
        case 5: return fixed32() != nil
        default: return false
        }
    }
}
