
/// A tensor as the converter hands it to a writer: quantized, or kept as float (or as stored).
///
/// The kept bytes are only valid during ``TensorWriter/write(_:)``; a writer that needs them
/// later copies them. A ``QuantizedWeight`` keeps its own memory alive.
public struct ConvertedTensor {
    public enum Content {
        /// A quantized weight with the error of what it stores against the source weights
        /// (`nil` when not recorded, as when exporting a checkpoint).
        case quantized(QuantizedWeight, metrics: QuantizationErrorMetrics?)
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

/// Where the streaming converter sends tensors: the native checkpoint, GGUF or safetensors.
///
/// The converter calls ``begin(tensors:metadata:)`` once, ``write(_:)`` once per tensor in the
/// order `begin` listed them, then ``finish()``. A writer writes into an ``AtomicOutputFile``
/// and never holds more than the tensor in hand, so memory stays bounded by the largest tensor.
///
/// Each writer declares the quantization schemes it stores: the converter asks
/// ``storedScheme(forPlanned:)`` which scheme to quantize a tensor with, so the weights arrive
/// already in the form the file holds (a GGUF file receives Q8_0, never INT8 to re-quantize).
public protocol TensorWriter: AnyObject {
    /// Whether the writer can store weights quantized with `scheme`.
    func canStore(_ scheme: QuantizationDescriptor) -> Bool
    /// The scheme this writer stores for a tensor the plan quantizes at `granularity`.
    func storedScheme(forPlanned granularity: Granularity) -> QuantizationDescriptor
    /// Whether the writer can keep a tensor of `dtype` byte for byte (GGUF holds ggml block
    /// types such as Q4_K; other formats hold plain element types only).
    func canKeep(_ dtype: DType) -> Bool
    /// Called before any tensor with every tensor that will follow (as the source describes
    /// them) and file metadata, so a header-first format can reserve its header.
    func begin(tensors: [TensorInfo], metadata: [String: MetadataValue]) throws
    /// Stores one tensor; throws ``TensorWriterError/unsupportedScheme(tensor:scheme:format:)``
    /// for a weight in a scheme the writer cannot store.
    func write(_ tensor: ConvertedTensor) throws
    /// Completes the file (writes the header); the caller then commits the output file.
    func finish() throws
}

extension TensorWriter {
    /// Symmetric INT8 at the planned granularity: the default for writers of SwiftQuant's own scheme.
    public func storedScheme(forPlanned granularity: Granularity) -> QuantizationDescriptor {
        .symmetricInt8(granularity)
    }

    /// Plain element types: what every format but GGUF holds.
    public func canKeep(_ dtype: DType) -> Bool { !dtype.isBlockQuantized }
}
