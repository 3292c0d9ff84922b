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

extension DType {
    /// The kernels' encoding for this dtype when it is a plain float that decodes straight
    /// to Float32 (F16, BF16, F32, F64); `nil` for everything else, including Q8_0, which
    /// needs block dequantization rather than element decoding.
    public var floatEncoding: FloatEncoding? {
        switch self {
        case .f16: .float16
        case .bf16: .bfloat16
        case .f32: .float32
        case .f64: .float64
        default: nil
        }
    }
}
