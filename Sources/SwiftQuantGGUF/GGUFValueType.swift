import SwiftQuantCore
import SwiftQuantKernels
/// The GGUF metadata value types (`gguf_type` in ggml's `gguf.h`), numbered as the file stores them.
public enum GGUFValueType: UInt32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// Bytes one value of a fixed-size type takes; `nil` for strings and arrays.
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }

    /// The fewest bytes one value can take, which bounds how many values the rest of a file can hold.
    var minimumSize: Int {
        switch self {
        case .string: 8  // the u64 length of an empty string
        case .array: 12  // element type and count of an empty array
        default: fixedSize!
        }
    }

    /// ggml's spelling (`u32`, `str`, `arr`, …).
    public var description: String {
        switch self {
        case .uint8: "u8"
        case .int8: "i8"
        case .uint16: "u16"
        case .int16: "i16"
        case .uint32: "u32"
        case .int32: "i32"
        case .float32: "f32"
        case .bool: "bool"
        case .string: "str"
        case .array: "arr"
        case .uint64: "u64"
        case .int64: "i64"
        case .float64: "f64"
        }
    }
}

/// One GGUF key/value pair with the exact type the file stores it as.
///
/// `MetadataValue` folds all integer widths into one case; llama.cpp checks the stored type
/// of many keys (`general.file_type` must be a u32, for example), so GGUF-to-GGUF conversion
/// copies these entries rather than the folded values.
public struct GGUFMetadataEntry: Sendable, Hashable {
    public var key: String
    /// The value's type; for an array, ``elementType`` says what it holds.
    public var type: GGUFValueType
    /// For an array, the type of its elements; `nil` otherwise.
    public var elementType: GGUFValueType?
    public var value: MetadataValue

    public init(key: String, type: GGUFValueType, elementType: GGUFValueType? = nil, value: MetadataValue) {
        self.key = key
        self.type = type
        self.elementType = elementType
        self.value = value
    }
}

/// Fixed facts of the GGUF format and the limits this reader enforces.
public enum GGUFFormat {
    /// `GGUF` as a little-endian u32.
    public static let magic: UInt32 = 0x4655_4747
    /// The versions read: v2 and v3 share one layout (v1 used 32-bit counts and is obsolete).
    public static let supportedVersions: ClosedRange<UInt32> = 2...3
    /// The version this project writes.
    public static let writtenVersion: UInt32 = 3
    /// The data alignment when `general.alignment` is absent.
    public static let defaultAlignment = 32
    /// The largest `general.alignment` accepted. Writers use 32 (ggml, gguf-py) up to a page;
    /// anything larger only inserts padding, and llama.cpp once overflowed on 2^30 (a CVE).
    public static let maximumAlignment = 1 << 20
    /// ggml's `GGML_MAX_NAME`: tensor names must be shorter, or llama.cpp rejects the file.
    public static let maximumTensorNameBytes = 63
    /// ggml's `GGML_MAX_DIMS`.
    public static let maximumDimensions = 4
    /// The most metadata array elements one file may hold, all arrays together. Each becomes a
    /// `MetadataValue`, so this bounds memory to a few hundred MB whatever the file claims;
    /// real files stay far below (a 262k-token vocabulary with scores, types and 500k merges
    /// is about 1.3 million).
    public static let maximumMetadataArrayElements = 1 << 23
    /// The most tensors, and the most metadata entries, one file may declare: far above real
    /// models (thousands of tensors, tens of keys), far below what a crafted count could cost.
    public static let maximumCount = 1 << 20
}
