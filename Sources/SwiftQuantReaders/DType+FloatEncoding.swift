import SwiftQuantKernels

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
