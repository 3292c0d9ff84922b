/// A dense, row-major Float32 tensor: a shape plus contiguous storage.
///
/// This is the small tensor type the quantization API works on, in the spirit of the
/// reference library's torch tensors. Invariant: `storage.count == shape.product`.
public struct FloatTensor: Sendable, Equatable {
    public var shape: [Int]
    public var storage: [Float]

    /// Creates a tensor; throws when the storage does not match the shape.
    public init(shape: [Int], storage: [Float]) throws(KernelError) {
        guard let count = shape.checkedElementCount, count == storage.count else {
            throw .shapeMismatch(expected: shape, elements: storage.count)
        }
        self.shape = shape
        self.storage = storage
    }

    /// Creates a tensor whose storage is known to match (checked in debug builds).
    public init(uncheckedShape shape: [Int], storage: [Float]) {
        assert(shape.checkedElementCount == storage.count)
        self.shape = shape
        self.storage = storage
    }

    public var elementCount: Int { storage.count }

    /// The tensor viewed as a matrix `[shape[0], rest]`, as per-channel quantization sees it.
    /// A scalar or 1-D tensor is one row.
    public var rowsAndColumns: (rows: Int, columns: Int) {
        matrixView(of: shape)
    }
}

/// Views any shape as `[rows, columns]`: `[shape[0], product of the rest]`.
/// Scalars and 1-D tensors are a single row.
public func matrixView(of shape: [Int]) -> (rows: Int, columns: Int) {
    if shape.count < 2 {
        return (1, shape.first ?? 1)
    }
    let rest = shape.dropFirst().reduce(1, *)
    return (shape[0], rest)
}

extension Array where Element == Int {
    /// The product of the dimensions, or `nil` when a dimension is negative or the product overflows.
    public var checkedElementCount: Int? {
        var product = 1
        for dimension in self {
            guard dimension >= 0 else { return nil }
            let (result, overflow) = product.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            product = result
        }
        return product
    }
}
