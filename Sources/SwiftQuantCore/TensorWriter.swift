
/// A tensor as the converter hands it to a writer: quantized, or kept as float (or as stored).
///
/// The bytes are only valid during ``TensorWriter/write(_:)``; a sink that needs them later
/// copies them.
public struct ConvertedTensor {
    public enum Content {
        /// INT8 values in the tensor's shape with their Float32 scales, the Float32 weights they
        /// came from (a GGUF sink re-quantizes these to Q8_0 with ggml's own rounding; `nil`
        /// when exporting a checkpoint, which no longer has them), and the error of the INT8
        /// values against them (`nil` when not recorded).
        case quantized(
            values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>, granularity: Granularity,
            weights: UnsafeBufferPointer<Float>?, metrics: QuantizationErrorMetrics?)
        /// Bytes in `dtype`, row-major, little-endian.
        case kept(dtype: DType, bytes: UnsafeRawBufferPointer)
    }

    public var name: String
    /// Row-major shape.
    public var shape: [Int]
    /// The dtype of the source tensor.
    public var sourceDType: DType
    public var content: Content
    /// Releases the input pages of this tensor read so far. A sink streaming through a large
    /// kept tensor (a view into the source's map) calls it now and then, so resident memory
    /// stays bounded by its batch rather than by the tensor.
    public var releaseInputPages: @Sendable () -> Void

    public init(
        name: String, shape: [Int], sourceDType: DType, content: Content,
        releaseInputPages: @escaping @Sendable () -> Void = {}
    ) {
        self.name = name
        self.shape = shape
        self.sourceDType = sourceDType
        self.content = content
        self.releaseInputPages = releaseInputPages
    }
}

/// Where the streaming `Converter` sends tensors: the native checkpoint, GGUF or safetensors.
///
/// The converter calls ``begin(tensors:metadata:)`` once, ``write(_:)`` once per tensor in the
/// order `begin` listed them, then ``finish()``. A sink writes into an ``AtomicOutputFile``
/// and never holds more than the tensor in hand, so memory stays bounded by the largest tensor.
public protocol TensorWriter: AnyObject {
    /// Whether the sink needs the Float32 weights of quantized tensors (GGUF re-quantizes them
    /// to Q8_0). When `false`, the converter quantizes straight from the source's encoded bytes
    /// and passes `weights: nil`, saving a Float32 copy of each tensor. Defaults to `true`.
    var wantsSourceWeights: Bool { get }
    /// Called before any tensor with every tensor that will follow (as the source describes
    /// them) and file metadata, so a header-first format can reserve its header.
    func begin(tensors: [TensorInfo], metadata: [String: MetadataValue]) throws
    /// Stores one tensor.
    func write(_ tensor: ConvertedTensor) throws
    /// Completes the file (writes the header); the caller then commits the output file.
    func finish() throws
}

extension TensorWriter {
    public var wantsSourceWeights: Bool { true }
}
