import SwiftQuantCore

/// A dense, row-major float tensor that remembers its dtype: the Swift side of a torch
/// tensor of `torch.float32`, `torch.float16` or `torch.bfloat16`.
///
/// Values are held widened to Float32, which is exact for all three dtypes; the invariant is
/// that every stored value is representable in `dtype`. The mirror of rotalabs_accel computes
/// on such tensors the way PyTorch does, each op rounded to `dtype`.
///
/// ```swift
/// let weight = try TypedFloatTensor(dtype: .float16, shape: [2, 3], values: [0.1, -0.2, 0.3, 1, 2, 3])  // rounded to fp16
/// let (q, scale) = try quantizeSymmetric(weight, dimension: 1)
/// ```
public struct TypedFloatTensor: Sendable, Equatable {
    /// `.float32`, `.float16` or `.bfloat16`.
    public let dtype: FloatEncoding
    public let shape: [Int]
    /// The values widened to Float32, row-major.
    public let storage: [Float]

    /// Creates a tensor of `dtype`, rounding each value to it (to nearest even), as
    /// `torch.tensor(values).to(dtype)` does.
    ///
    /// - Throws: `KernelError.shapeMismatch(expected:elements:)`, or
    ///   `KernelError.unsupportedEncoding(_:)` for `.float64`.
    public init(dtype: FloatEncoding, shape: [Int], values: [Float]) throws(KernelError) {
        guard dtype != .float64 else { throw .unsupportedEncoding(dtype) }
        guard let count = shape.checkedElementCount, count == values.count else {
            throw .shapeMismatch(expected: shape, elements: values.count)
        }
        self.dtype = dtype
        self.shape = shape
        self.storage = dtype == .float32 ? values : values.map { roundedFloat($0, to: dtype) }
    }

    /// A Float16 tensor from Float16 values (exact).
    public init(float16 values: [Float16], shape: [Int]) throws(KernelError) {
        try self.init(dtype: .float16, shape: shape, values: values.map(Float.init))
    }

    /// A tensor from little-endian encoded values (`.float16`, `.bfloat16` or `.float32`).
    public init(encoded: [UInt8], dtype: FloatEncoding, shape: [Int]) throws(KernelError) {
        guard dtype != .float64 else { throw .unsupportedEncoding(dtype) }
        let values = encoded.withUnsafeBytes { decodeFloats($0, encoding: dtype) }
        guard encoded.count % dtype.byteWidth == 0 else { throw .shapeMismatch(expected: shape, elements: values.count) }
        try self.init(dtype: dtype, shape: shape, values: values)
    }

    /// A Float32 tensor with the same values.
    public init(_ tensor: FloatTensor) {
        self.init(uncheckedDType: .float32, shape: tensor.shape, storage: tensor.storage)
    }

    package init(uncheckedDType dtype: FloatEncoding, shape: [Int], storage: [Float]) {
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
    }

    public var elementCount: Int { storage.count }

    /// The values as a Float32 `FloatTensor` (`tensor.float()`; exact).
    public var float32: FloatTensor { FloatTensor(uncheckedShape: shape, storage: storage) }

    /// The values as Float16 (exact for a Float16 tensor, rounded otherwise).
    public var float16Values: [Float16] { storage.map(Float16.init) }

    /// The values little-endian encoded in `dtype`.
    public var encoded: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: storage.count * dtype.byteWidth)
        storage.withUnsafeBufferPointer { source in
            bytes.withUnsafeMutableBytes { encodeFloats(source, as: dtype, into: $0) }
        }
        return bytes
    }

    /// This tensor converted to `dtype` (round to nearest even), as `tensor.to(dtype)`.
    public func to(_ dtype: FloatEncoding) throws(KernelError) -> TypedFloatTensor {
        try TypedFloatTensor(dtype: dtype, shape: shape, values: storage)
    }
}
