/// A metadata value: safetensors has only strings; GGUF and our checkpoint have typed values.
public indirect enum MetadataValue: Sendable, Hashable {
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case float(Double)
    case bool(Bool)
    case array([MetadataValue])

    /// The value as JSON text.
    public var json: String {
        switch self {
        case .string(let value): jsonQuoted(value)
        case .int(let value): String(value)
        case .uint(let value): String(value)
        case .float(let value): value.isFinite ? String(value) : "null"
        case .bool(let value): value ? "true" : "false"
        case .array(let values): "[" + values.map(\.json).joined(separator: ",") + "]"
        }
    }

    /// The value as a person reads it in a table (strings unquoted, long arrays shortened).
    public var display: String {
        switch self {
        case .string(let value): value
        case .array(let values) where values.count > 8:
            "[" + values.prefix(8).map(\.display).joined(separator: ", ") + ", … (\(values.count) items)]"
        case .array(let values): "[" + values.map(\.display).joined(separator: ", ") + "]"
        default: json
        }
    }
}

/// `value` as a JSON string literal, escaping what RFC 8259 requires.
public func jsonQuoted(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case let c where c.value < 0x20:
            let hex = String(c.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
