
/// What a reader knows about one tensor before reading its data.
public struct TensorInfo: Sendable, Hashable {
    /// The tensor's name as the file spells it.
    public var name: String
    /// The element type as stored (for our checkpoint: the type of the stored values, `I8` for quantized).
    public var dtype: DType
    /// Row-major shape (GGUF's fastest-first dims are already reversed).
    public var shape: [Int]
    /// Bytes of the tensor's raw (uncompressed) data.
    public var byteCount: Int
    /// Format-specific facts shown by `inspect`: for our checkpoint the quantization, the codec
    /// and the stored size; empty for plain formats.
    public var storage: StorageDetails?

    public init(name: String, dtype: DType, shape: [Int], byteCount: Int, storage: StorageDetails? = nil) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteCount = byteCount
        self.storage = storage
    }

    /// The number of elements (1 for a scalar, 0 for an empty tensor).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// How a tensor is stored in a SwiftQuant checkpoint.
public struct StorageDetails: Sendable, Hashable {
    /// The granularity of a quantized tensor; `nil` for a kept tensor.
    public var quantization: Granularity?
    /// The dtype of the source tensor this one was made from.
    public var sourceDType: DType
    /// `raw`, `zstd` or `zstd-planes`.
    public var codec: String
    /// Bytes the tensor takes in the file (values and scales, after compression).
    public var storedByteCount: Int

    public init(quantization: Granularity?, sourceDType: DType, codec: String, storedByteCount: Int) {
        self.quantization = quantization
        self.sourceDType = sourceDType
        self.codec = codec
        self.storedByteCount = storedByteCount
    }
}
