import SwiftQuantCore

/// Encodes Float32 `source` as little-endian `encoding` values into `destination`: the inverse
/// of `decodeFloats`, for kept tensors stored in another float type and for `export`.
///
/// Float16 and BFloat16 round to nearest even (BFloat16 keeps NaN a NaN); Float64 is exact.
/// Precondition: `destination.count == source.count * encoding.byteWidth`.
public func encodeFloats(
    _ source: UnsafeBufferPointer<Float>, as encoding: FloatEncoding, into destination: UnsafeMutableRawBufferPointer
) {
    precondition(destination.count == source.count * encoding.byteWidth)
    guard let input = source.baseAddress, let output = destination.baseAddress else { return }
    let out = output
    parallelRanges(source.count, minimumChunk: 1 << 16) { range in
        switch encoding {
        case .float16:
            for i in range {
                out.storeBytes(of: Float16(input[i]).bitPattern.littleEndian, toByteOffset: i * 2, as: UInt16.self)
            }
        case .bfloat16:
            for i in range {
                out.storeBytes(of: bfloat16Bits(input[i]).littleEndian, toByteOffset: i * 2, as: UInt16.self)
            }
        case .float32:
            for i in range {
                out.storeBytes(of: input[i].bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
            }
        case .float64:
            for i in range {
                out.storeBytes(of: Double(input[i]).bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self)
            }
        }
    }
}

/// Float32 → BFloat16 bits, round to nearest even; NaN stays a (quiet) NaN.
@inline(__always)
func bfloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(bits >> 16) | 0x0040 }
    let rounding = 0x7FFF + ((bits >> 16) & 1)
    return UInt16((bits &+ rounding) >> 16)
}
