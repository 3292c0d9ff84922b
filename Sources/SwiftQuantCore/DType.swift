/// Every element type SwiftQuant knows: the safetensors dtypes and the ggml types.
///
/// This is the project's one dtype table. The raw value is the safetensors spelling
/// (`F16`, `BF16`, …); ggml block types use ggml's names (`Q8_0`, `Q4_K`, …).
public enum DType: String, CaseIterable, Sendable, Hashable, Codable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6E2M3 = "F6_E2M3"
    case f6E3M2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8E5M2 = "F8_E5M2"
    case f8E4M3 = "F8_E4M3"
    case f8E8M0 = "F8_E8M0"
    case f8E4M3FNUZ = "F8_E4M3FNUZ"
    case f8E5M2FNUZ = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    // ggml block-quantized types (GGUF only). Only Q8_0 is decoded; the rest are listed.
    case q4_0 = "Q4_0"
    case q4_1 = "Q4_1"
    case q5_0 = "Q5_0"
    case q5_1 = "Q5_1"
    case q8_0 = "Q8_0"
    case q8_1 = "Q8_1"
    case q2_K = "Q2_K"
    case q3_K = "Q3_K"
    case q4_K = "Q4_K"
    case q5_K = "Q5_K"
    case q6_K = "Q6_K"
    case q8_K = "Q8_K"
    case iq2_XXS = "IQ2_XXS"
    case iq2_XS = "IQ2_XS"
    case iq3_XXS = "IQ3_XXS"
    case iq1_S = "IQ1_S"
    case iq4_NL = "IQ4_NL"
    case iq3_S = "IQ3_S"
    case iq2_S = "IQ2_S"
    case iq4_XS = "IQ4_XS"
    case iq1_M = "IQ1_M"
    case tq1_0 = "TQ1_0"
    case tq2_0 = "TQ2_0"
    case mxfp4 = "MXFP4"

    /// Storage layout: `elements` values take `bytes` bytes. Plain types are one element per
    /// block; sub-byte types pack several; ggml types store blocks along each row.
    public struct Layout: Sendable, Hashable {
        public let elementsPerBlock: Int
        public let bitsPerBlock: Int
        /// ggml's type number, where GGUF has one.
        public let ggmlType: UInt32?
    }

    /// The one table of sizes and ggml numbers.
    public var layout: Layout {
        switch self {
        case .bool: Layout(elementsPerBlock: 1, bitsPerBlock: 8, ggmlType: nil)
        case .f4: Layout(elementsPerBlock: 1, bitsPerBlock: 4, ggmlType: nil)
        case .f6E2M3, .f6E3M2: Layout(elementsPerBlock: 1, bitsPerBlock: 6, ggmlType: nil)
        case .u8: Layout(elementsPerBlock: 1, bitsPerBlock: 8, ggmlType: nil)
        case .i8: Layout(elementsPerBlock: 1, bitsPerBlock: 8, ggmlType: 24)
        case .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ:
            Layout(elementsPerBlock: 1, bitsPerBlock: 8, ggmlType: nil)
        case .i16: Layout(elementsPerBlock: 1, bitsPerBlock: 16, ggmlType: 25)
        case .u16: Layout(elementsPerBlock: 1, bitsPerBlock: 16, ggmlType: nil)
        case .f16: Layout(elementsPerBlock: 1, bitsPerBlock: 16, ggmlType: 1)
        case .bf16: Layout(elementsPerBlock: 1, bitsPerBlock: 16, ggmlType: 30)
        case .i32: Layout(elementsPerBlock: 1, bitsPerBlock: 32, ggmlType: 26)
        case .u32: Layout(elementsPerBlock: 1, bitsPerBlock: 32, ggmlType: nil)
        case .f32: Layout(elementsPerBlock: 1, bitsPerBlock: 32, ggmlType: 0)
        case .c64: Layout(elementsPerBlock: 1, bitsPerBlock: 64, ggmlType: nil)
        case .f64: Layout(elementsPerBlock: 1, bitsPerBlock: 64, ggmlType: 28)
        case .i64: Layout(elementsPerBlock: 1, bitsPerBlock: 64, ggmlType: 27)
        case .u64: Layout(elementsPerBlock: 1, bitsPerBlock: 64, ggmlType: nil)
        // ggml-common.h block sizes (QK and sizeof(block_*)).
        case .q4_0: Layout(elementsPerBlock: 32, bitsPerBlock: 18 * 8, ggmlType: 2)
        case .q4_1: Layout(elementsPerBlock: 32, bitsPerBlock: 20 * 8, ggmlType: 3)
        case .q5_0: Layout(elementsPerBlock: 32, bitsPerBlock: 22 * 8, ggmlType: 6)
        case .q5_1: Layout(elementsPerBlock: 32, bitsPerBlock: 24 * 8, ggmlType: 7)
        case .q8_0: Layout(elementsPerBlock: 32, bitsPerBlock: 34 * 8, ggmlType: 8)
        case .q8_1: Layout(elementsPerBlock: 32, bitsPerBlock: 36 * 8, ggmlType: 9)
        case .q2_K: Layout(elementsPerBlock: 256, bitsPerBlock: 84 * 8, ggmlType: 10)
        case .q3_K: Layout(elementsPerBlock: 256, bitsPerBlock: 110 * 8, ggmlType: 11)
        case .q4_K: Layout(elementsPerBlock: 256, bitsPerBlock: 144 * 8, ggmlType: 12)
        case .q5_K: Layout(elementsPerBlock: 256, bitsPerBlock: 176 * 8, ggmlType: 13)
        case .q6_K: Layout(elementsPerBlock: 256, bitsPerBlock: 210 * 8, ggmlType: 14)
        case .q8_K: Layout(elementsPerBlock: 256, bitsPerBlock: 292 * 8, ggmlType: 15)
        case .iq2_XXS: Layout(elementsPerBlock: 256, bitsPerBlock: 66 * 8, ggmlType: 16)
        case .iq2_XS: Layout(elementsPerBlock: 256, bitsPerBlock: 74 * 8, ggmlType: 17)
        case .iq3_XXS: Layout(elementsPerBlock: 256, bitsPerBlock: 98 * 8, ggmlType: 18)
        case .iq1_S: Layout(elementsPerBlock: 256, bitsPerBlock: 50 * 8, ggmlType: 19)
        case .iq4_NL: Layout(elementsPerBlock: 32, bitsPerBlock: 18 * 8, ggmlType: 20)
        case .iq3_S: Layout(elementsPerBlock: 256, bitsPerBlock: 110 * 8, ggmlType: 21)
        case .iq2_S: Layout(elementsPerBlock: 256, bitsPerBlock: 82 * 8, ggmlType: 22)
        case .iq4_XS: Layout(elementsPerBlock: 256, bitsPerBlock: 136 * 8, ggmlType: 23)
        case .iq1_M: Layout(elementsPerBlock: 256, bitsPerBlock: 56 * 8, ggmlType: 29)
        case .tq1_0: Layout(elementsPerBlock: 256, bitsPerBlock: 54 * 8, ggmlType: 34)
        case .tq2_0: Layout(elementsPerBlock: 256, bitsPerBlock: 66 * 8, ggmlType: 35)
        case .mxfp4: Layout(elementsPerBlock: 32, bitsPerBlock: 17 * 8, ggmlType: 39)
        }
    }

    /// The dtype for a ggml type number, or `nil` when the number is unknown.
    public init?(ggmlType: UInt32) {
        guard let match = DType.allCases.first(where: { $0.layout.ggmlType == ggmlType }) else {
            return nil
        }
        self = match
    }

    /// Whether SwiftQuant can decode this dtype into Float32 (and so quantize it).
    public var isDecodableFloat: Bool {
        switch self {
        case .f16, .bf16, .f32, .f64, .q8_0: true
        default: false
        }
    }

    /// Whether this is a floating-point type in the source (what the rules call a float tensor).
    public var isFloatingPoint: Bool {
        switch self {
        case .f4, .f6E2M3, .f6E3M2, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ,
             .f16, .bf16, .f32, .f64:
            true
        default: false
        }
    }

    /// Whether values are stored in ggml blocks along each row.
    public var isBlockQuantized: Bool { layout.elementsPerBlock > 1 }

    /// Size in bytes of one element, for whole-byte plain types; `nil` otherwise.
    public var elementSize: Int? {
        let layout = layout
        guard layout.elementsPerBlock == 1, layout.bitsPerBlock % 8 == 0 else { return nil }
        return layout.bitsPerBlock / 8
    }

    /// The number of bytes `elementCount` values take, or `nil` on overflow or when the count
    /// does not fill whole blocks and bytes (a sub-byte tensor must fill whole bytes).
    public func byteCount(elementCount: Int) -> Int? {
        let layout = layout
        guard elementCount >= 0, elementCount % layout.elementsPerBlock == 0 else { return nil }
        let blocks = elementCount / layout.elementsPerBlock
        let (bits, overflow) = blocks.multipliedReportingOverflow(by: layout.bitsPerBlock)
        guard !overflow, bits % 8 == 0 else { return nil }
        return bits / 8
    }
}
