/// A parsed JSON value that remembers where it came from.
///
/// Readers parse headers with ``JSONParser`` instead of Foundation's `JSONSerialization`
/// for three reasons: duplicate object keys stay visible (Foundation silently keeps one),
/// every value carries its byte offset for error messages, and parsing works directly on
/// the memory-mapped bytes without a copy.
package struct JSONNode: Sendable {
    /// Offset of the value's first byte, relative to the start of the parsed bytes.
    package var offset: Int
    package var value: Value

    package indirect enum Value: Sendable {
        /// Members in document order; keys may repeat (the caller decides whether that is an error).
        case object([Member])
        case array([JSONNode])
        case string(String)
        /// The number exactly as written, so callers choose how to interpret it.
        case number(String)
        case bool(Bool)
        case null
    }

    package struct Member: Sendable {
        package var key: String
        /// Offset of the key's opening quote.
        package var keyOffset: Int
        package var value: JSONNode
    }

    /// A short name for the value's type, for messages ("a string", "an object", …).
    package var typeDescription: String {
        switch value {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    /// The value as a non-negative integer that fits `Int`, or `nil` for anything else
    /// (fractions, exponents, signs, overflow), as serde does for a `usize` field.
    package var nonNegativeInteger: Int? {
        guard case .number(let text) = value, !text.isEmpty,
              text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return Int(text)
    }
}

/// Why a JSON document failed to parse, and where.
package struct JSONSyntaxError: Error, Sendable, Equatable {
    /// Offset of the offending byte, relative to the start of the parsed bytes.
    package var offset: Int
    package var reason: String
}

/// A strict RFC 8259 parser over raw UTF-8 bytes.
///
/// It accepts exactly one value surrounded by optional whitespace, rejects invalid UTF-8,
/// raw control characters in strings and lone surrogate escapes, and limits nesting to
/// ``maximumDepth`` so a crafted header cannot exhaust the stack.
package struct JSONParser {
    /// serde_json's default recursion limit, so we accept what the reference crate accepts.
    package static let maximumDepth = 128

    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    private var depth = 0

    private init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Parses `bytes` as one JSON document.
    package static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> JSONNode {
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let node = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.position == bytes.count else {
            throw JSONSyntaxError(offset: parser.position, reason: "unexpected \(parser.describeByte()) after the end of the JSON value")
        }
        return node
    }

    private var atEnd: Bool { position >= bytes.count }
    private var current: UInt8 { bytes[position] }

    private func describeByte() -> String {
        guard !atEnd else { return "end of data" }
        let byte = current
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16, uppercase: true)
    }

    private mutating func skipWhitespace() {
        while !atEnd {
            switch current {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func parseValue() throws(JSONSyntaxError) -> JSONNode {
        guard !atEnd else { throw JSONSyntaxError(offset: position, reason: "unexpected end of data, expected a value") }
        let start = position
        switch current {
        case UInt8(ascii: "{"): return JSONNode(offset: start, value: try parseObject())
        case UInt8(ascii: "["): return JSONNode(offset: start, value: try parseArray())
        case UInt8(ascii: "\""): return JSONNode(offset: start, value: .string(try parseString()))
        case UInt8(ascii: "t"): try expectLiteral("true"); return JSONNode(offset: start, value: .bool(true))
        case UInt8(ascii: "f"): try expectLiteral("false"); return JSONNode(offset: start, value: .bool(false))
        case UInt8(ascii: "n"): try expectLiteral("null"); return JSONNode(offset: start, value: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return JSONNode(offset: start, value: .number(try parseNumber()))
        default:
            throw JSONSyntaxError(offset: position, reason: "unexpected \(describeByte()), expected a value")
        }
    }

    private mutating func enterContainer() throws(JSONSyntaxError) {
        depth += 1
        guard depth <= JSONParser.maximumDepth else {
            throw JSONSyntaxError(offset: position, reason: "nesting deeper than \(JSONParser.maximumDepth) levels")
        }
    }

    private mutating func parseObject() throws(JSONSyntaxError) -> JSONNode.Value {
        try enterContainer()
        position += 1  // {
        var members: [JSONNode.Member] = []
        skipWhitespace()
        if !atEnd && current == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard !atEnd, current == UInt8(ascii: "\"") else {
                throw JSONSyntaxError(offset: position, reason: "unexpected \(describeByte()), expected a string key")
            }
            let keyOffset = position
            let key = try parseString()
            skipWhitespace()
            guard !atEnd, current == UInt8(ascii: ":") else {
                throw JSONSyntaxError(offset: position, reason: "unexpected \(describeByte()), expected ':'")
            }
            position += 1
            skipWhitespace()
            let value = try parseValue()
            members.append(JSONNode.Member(key: key, keyOffset: keyOffset, value: value))
            skipWhitespace()
            guard !atEnd else { throw JSONSyntaxError(offset: position, reason: "unexpected end of data inside an object") }
            if current == UInt8(ascii: ",") { position += 1; continue }
            if current == UInt8(ascii: "}") { position += 1; break }
            throw JSONSyntaxError(offset: position, reason: "unexpected \(describeByte()), expected ',' or '}'")
        }
        depth -= 1
        return .object(members)
    }

    private mutating func parseArray() throws(JSONSyntaxError) -> JSONNode.Value {
        try enterContainer()
        position += 1  // [
        var elements: [JSONNode] = []
        skipWhitespace()
        if !atEnd && current == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard !atEnd else { throw JSONSyntaxError(offset: position, reason: "unexpected end of data inside an array") }
            if current == UInt8(ascii: ",") { position += 1; continue }
            if current == UInt8(ascii: "]") { position += 1; break }
            throw JSONSyntaxError(offset: position, reason: "unexpected \(describeByte()), expected ',' or ']'")
        }
        depth -= 1
        return .array(elements)
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
        let start = position
        let expected = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        guard bytes.count - position >= expected.count,
              bytes[position..<position + expected.count].elementsEqual(expected)
        else { throw JSONSyntaxError(offset: start, reason: "unexpected \(describeByte()), expected a value") }
        position += expected.count
    }

    private mutating func parseNumber() throws(JSONSyntaxError) -> String {
        let start = position
        func digits(_ parser: inout JSONParser) -> Int {
            var count = 0
            while !parser.atEnd, parser.current >= UInt8(ascii: "0"), parser.current <= UInt8(ascii: "9") {
                parser.position += 1
                count += 1
            }
            return count
        }
        if current == UInt8(ascii: "-") { position += 1 }
        guard !atEnd, current >= UInt8(ascii: "0"), current <= UInt8(ascii: "9") else {
            throw JSONSyntaxError(offset: position, reason: "invalid number: expected a digit")
        }
        if current == UInt8(ascii: "0") {
            position += 1
            if !atEnd, current >= UInt8(ascii: "0"), current <= UInt8(ascii: "9") {
                throw JSONSyntaxError(offset: start, reason: "invalid number: leading zero")
            }
        } else {
            _ = digits(&self)
        }
        if !atEnd, current == UInt8(ascii: ".") {
            position += 1
            guard digits(&self) > 0 else {
                throw JSONSyntaxError(offset: position, reason: "invalid number: expected a digit after '.'")
            }
        }
        if !atEnd, current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            if !atEnd, current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard digits(&self) > 0 else {
                throw JSONSyntaxError(offset: position, reason: "invalid number: expected a digit in the exponent")
            }
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    }

    private mutating func parseString() throws(JSONSyntaxError) -> String {
        let start = position
        position += 1  // opening quote
        let contentStart = position
        // Fast path: no escapes, so the bytes are the string once validated as UTF-8.
        var hasEscape = false
        while true {
            guard !atEnd else { throw JSONSyntaxError(offset: start, reason: "unterminated string") }
            let byte = current
            if byte == UInt8(ascii: "\"") { break }
            if byte < 0x20 {
                throw JSONSyntaxError(offset: position, reason: "control character 0x\(String(byte, radix: 16, uppercase: true)) inside a string (it must be escaped)")
            }
            if byte == UInt8(ascii: "\\") {
                hasEscape = true
                position += 2
                continue
            }
            position += 1
        }
        let end = position
        position += 1  // closing quote
        let raw = UnsafeRawBufferPointer(rebasing: bytes[contentStart..<end])
        guard !hasEscape else { return try unescape(raw, at: contentStart) }
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw JSONSyntaxError(offset: contentStart + firstInvalidUTF8Offset(raw), reason: "invalid UTF-8 inside a string")
        }
        return string
    }

    private func unescape(_ raw: UnsafeRawBufferPointer, at base: Int) throws(JSONSyntaxError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= raw.count else { return nil }
            var value: UInt32 = 0
            for byte in raw[at..<at + 4] {
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while i < raw.count {
            let byte = raw[i]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                i += 1
                continue
            }
            guard i + 1 < raw.count else { throw JSONSyntaxError(offset: base + i, reason: "unterminated escape") }
            let escape = raw[i + 1]
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(i + 2) else {
                    throw JSONSyntaxError(offset: base + i, reason: "invalid \\u escape: expected 4 hex digits")
                }
                var length = 6
                if (0xD800..<0xDC00).contains(scalar) {
                    guard i + 12 <= raw.count, raw[i + 6] == UInt8(ascii: "\\"), raw[i + 7] == UInt8(ascii: "u"),
                          let low = hex4(i + 8), (0xDC00..<0xE000).contains(low)
                    else { throw JSONSyntaxError(offset: base + i, reason: "lone UTF-16 surrogate in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    length = 12
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw JSONSyntaxError(offset: base + i, reason: "lone UTF-16 surrogate in \\u escape")
                }
                out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                i += length
                continue
            default:
                throw JSONSyntaxError(offset: base + i, reason: "invalid escape '\\\(printableInMessage(String(Character(Unicode.Scalar(escape)))))'")
            }
            i += 2
        }
        let string: String? = out.withUnsafeBytes { String(validating: $0, as: UTF8.self) }
        guard let string else {
            let offset = out.withUnsafeBytes { firstInvalidUTF8Offset($0) }
            throw JSONSyntaxError(offset: base + min(offset, raw.count), reason: "invalid UTF-8 inside a string")
        }
        return string
    }
}

/// The offset of the first byte that starts an invalid UTF-8 sequence in `bytes` (or
/// `bytes.count` when all of it is valid).
package func firstInvalidUTF8Offset(_ bytes: UnsafeRawBufferPointer) -> Int {
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    var offset = 0
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar): offset += UTF8.width(scalar)
        case .emptyInput: return offset
        case .error: return offset
        }
    }
}
