import SwiftQuantCore
import SwiftQuantKernels

/// Encodes a GGUF v3 header: magic, version, counts, key/value pairs and tensor infos.
enum GGUFHeaderEncoder {
    /// One tensor info as the header lists it.
    struct TensorRecord {
        package var name: String
        /// Row-major; written reversed (fastest first).
        var shape: [Int]
        var ggmlType: UInt32
        /// Relative to the data section.
        package var offset: UInt64
    }

    static func encode(entries: [GGUFMetadataEntry], tensors: [TensorRecord]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendLittleEndian(GGUFFormat.magic)
        bytes.appendLittleEndian(GGUFFormat.writtenVersion)
        bytes.appendLittleEndian(UInt64(tensors.count))
        bytes.appendLittleEndian(UInt64(entries.count))
        for entry in entries {
            bytes.appendGGUFString(entry.key)
            bytes.appendLittleEndian(entry.type.rawValue)
            if entry.type == .array, case .array(let values) = entry.value, let elementType = entry.elementType {
                bytes.appendLittleEndian(elementType.rawValue)
                bytes.appendLittleEndian(UInt64(values.count))
                for value in values { bytes.appendGGUFScalar(value, as: elementType) }
            } else {
                bytes.appendGGUFScalar(entry.value, as: entry.type)
            }
        }
        for tensor in tensors {
            bytes.appendGGUFString(tensor.name)
            bytes.appendLittleEndian(UInt32(tensor.shape.count))
            for dimension in tensor.shape.reversed() { bytes.appendLittleEndian(UInt64(dimension)) }
            bytes.appendLittleEndian(tensor.ggmlType)
            bytes.appendLittleEndian(tensor.offset)
        }
        return bytes
    }
}

extension Array where Element == UInt8 {
    /// A u64 byte length, then the UTF-8 bytes.
    mutating func appendGGUFString(_ text: String) {
        appendLittleEndian(UInt64(text.utf8.count))
        append(contentsOf: text.utf8)
    }

    /// `value` stored as `type`. Entries come from ``GGUFMetadataEntry/init(key:converting:)``
    /// or a GGUF file, so the value always fits its type.
    mutating func appendGGUFScalar(_ value: MetadataValue, as type: GGUFValueType) {
        switch (type, value) {
        case (.uint8, .uint(let v)): appendLittleEndian(UInt8(truncatingIfNeeded: v))
        case (.int8, .int(let v)): appendLittleEndian(Int8(truncatingIfNeeded: v))
        case (.uint16, .uint(let v)): appendLittleEndian(UInt16(truncatingIfNeeded: v))
        case (.int16, .int(let v)): appendLittleEndian(Int16(truncatingIfNeeded: v))
        case (.uint32, .uint(let v)): appendLittleEndian(UInt32(truncatingIfNeeded: v))
        case (.int32, .int(let v)): appendLittleEndian(Int32(truncatingIfNeeded: v))
        case (.uint64, .uint(let v)): appendLittleEndian(v)
        case (.int64, .int(let v)): appendLittleEndian(v)
        case (.float32, .float(let v)): appendLittleEndian(Float(v).bitPattern)
        case (.float64, .float(let v)): appendLittleEndian(v.bitPattern)
        case (.bool, .bool(let v)): append(v ? 1 : 0)
        case (.string, .string(let v)): appendGGUFString(v)
        default: preconditionFailure("GGUF value \(value) does not match its type \(type)")
        }
    }
}

extension GGUFMetadataEntry {
    /// The GGUF entry for a format-neutral value: strings stay strings, integers become i64 or
    /// u64, floats f64, and arrays keep one element type. Values GGUF cannot type (a mixed or
    /// nested array) are stored as their JSON text, so no metadata is lost.
    init(key: String, converting value: MetadataValue) {
        func scalarType(_ value: MetadataValue) -> GGUFValueType? {
            switch value {
            case .string: .string
            case .int: .int64
            case .uint: .uint64
            case .float: .float64
            case .bool: .bool
            case .array: nil
            }
        }
        if case .array(let values) = value {
            let types = Set(values.map(scalarType))
            if types.count == 1, let only = types.first, let elementType = only {
                self.init(key: key, type: .array, elementType: elementType, value: value)
            } else if values.isEmpty {
                self.init(key: key, type: .array, elementType: .string, value: value)
            } else {
                self.init(key: key, type: .string, value: .string(value.json))
            }
        } else {
            self.init(key: key, type: scalarType(value)!, value: value)
        }
    }

    /// An entry for a value that came out of a GGUF file through metadata that keeps only
    /// "signed", "unsigned" and "float" (a SwiftQuant checkpoint's `source.*`): integers as
    /// u32 or i32 and floats as f32 when the value fits exactly (what llama.cpp's keys use:
    /// counts, token ids, epsilons, scores, token types), else u64, i64 or f64. Values first
    /// stored as u8, u16, i8, i16, or as a 64-bit type holding a small value, come back wider or
    /// narrower; every value is exact.
    init(key: String, restoring value: MetadataValue) {
        func type(of values: [MetadataValue]) -> GGUFValueType? {
            guard let first = values.first else { return nil }
            switch first {
            case .string: return values.allSatisfy { if case .string = $0 { true } else { false } } ? .string : nil
            case .bool: return values.allSatisfy { if case .bool = $0 { true } else { false } } ? .bool : nil
            case .uint, .int, .float:
                var fits32 = true, signed = false, float = false
                for value in values {
                    switch value {
                    case .uint(let v): fits32 = fits32 && v <= UInt64(UInt32.max)
                    case .int(let v): signed = true; fits32 = fits32 && Int64(Int32.min) <= v && v <= Int64(Int32.max)
                    case .float(let v): float = true; fits32 = fits32 && (v.isNaN || Double(Float(v)) == v)
                    default: return nil
                    }
                }
                if float { return values.allSatisfy { if case .float = $0 { true } else { false } } ? (fits32 ? .float32 : .float64) : nil }
                if signed {
                    // A mix of signed and unsigned has no one GGUF type that stores both as they are.
                    guard values.allSatisfy({ if case .int = $0 { true } else { false } }) else { return nil }
                    return fits32 ? .int32 : .int64
                }
                return fits32 ? .uint32 : .uint64
            case .array: return nil
            }
        }
        if case .array(let values) = value {
            if values.isEmpty {
                self.init(key: key, type: .array, elementType: .string, value: value)
            } else if let element = type(of: values) {
                self.init(key: key, type: .array, elementType: element, value: value)
            } else {
                self.init(key: key, converting: value)
            }
        } else if let scalar = type(of: [value]) {
            self.init(key: key, type: scalar, value: value)
        } else {
            self.init(key: key, converting: value)
        }
    }
}
