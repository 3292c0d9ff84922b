/// The float encodings the kernels decode into Float32.
public enum FloatEncoding: Sendable, Hashable {
    case float16, bfloat16, float32, float64

    /// Bytes per value.
    public var byteWidth: Int {
        switch self {
        case .float16, .bfloat16: 2
        case .float32: 4
        case .float64: 8
        }
    }
}

/// Decodes little-endian `source` values of `encoding` into `destination` as Float32.
///
/// Exact for every representable value (Float16 and BFloat16 always are); Float64 rounds to
/// nearest even. Subnormals, ±0, ±inf and NaN keep their meaning. `source` need not be aligned.
/// Precondition: `source.count == destination.count * encoding.byteWidth`.
public func decodeFloats(
    _ source: UnsafeRawBufferPointer, encoding: FloatEncoding,
    into destination: UnsafeMutableBufferPointer<Float>
) {
    precondition(source.count == destination.count * encoding.byteWidth)
    let count = destination.count
    guard count > 0, let input = source.baseAddress, let output = destination.baseAddress else { return }
    parallelRanges(count, minimumChunk: 1 << 16) { range in
        switch encoding {
        case .float16:
            for i in range {
                let bits = input.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                output[i] = Float(Float16(bitPattern: UInt16(littleEndian: bits)))
            }
        case .bfloat16:
            for i in range {
                let bits = input.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                output[i] = Float(bitPattern: UInt32(UInt16(littleEndian: bits)) << 16)
            }
        case .float32:
            for i in range {
                let bits = input.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
                output[i] = Float(bitPattern: UInt32(littleEndian: bits))
            }
        case .float64:
            for i in range {
                let bits = input.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                output[i] = Float(Double(bitPattern: UInt64(littleEndian: bits)))
            }
        }
    }
}

/// Decodes into a new array.
public func decodeFloats(_ source: UnsafeRawBufferPointer, encoding: FloatEncoding) -> [Float] {
    let count = source.count / encoding.byteWidth
    return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        decodeFloats(source, encoding: encoding, into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
        initialized = count
    }
}
