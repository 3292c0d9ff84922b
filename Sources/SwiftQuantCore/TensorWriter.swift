
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
        /// A quantized tensor too large to hold at once, handed over a row slice at a time
        /// (see ``QuantizedSlices``): the file's bytes must equal those of `.quantized`.
        case quantizedSlices(QuantizedSlices)
        /// Kept bytes in `dtype` produced a slice at a time (floats re-encoded to another
        /// dtype): the file's bytes must equal those of `.kept`.
        case keptSlices(dtype: DType, ByteSlices)
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

/// A tensor's bytes produced one piece at a time, in order, so that no more than a piece is
/// in memory: a writer calls ``forEachPiece(_:)`` once.
public struct ByteSlices {
    /// The bytes all pieces add up to.
    public let byteCount: Int
    private let produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void

    /// `produce` calls its argument with every piece in order; each piece is valid only during that call.
    public init(byteCount: Int, produce: @escaping ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) {
        self.byteCount = byteCount
        self.produce = produce
    }

    /// One piece holding all of `bytes` (for writers that treat kept bytes as pieces).
    public init(_ bytes: UnsafeRawBufferPointer) {
        self.init(byteCount: bytes.count) { try $0(bytes) }
    }

    /// `bytes` in pieces of at most `pieceSize` bytes, calling `release` after each but the
    /// last: a view into a source's map streams through without all becoming resident.
    public init(_ bytes: UnsafeRawBufferPointer, pieceSize: Int, release: @escaping () -> Void) {
        precondition(pieceSize > 0)
        self.init(byteCount: bytes.count) { body in
            var done = 0
            while done < bytes.count {
                let count = min(pieceSize, bytes.count - done)
                try body(UnsafeRawBufferPointer(rebasing: bytes[done..<done + count]))
                done += count
                if done < bytes.count { release() }
            }
        }
    }

    /// Hands every piece, in order, to `body`; a piece is valid only during its call.
    public func forEachPiece(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try withoutActuallyEscaping(body) { try produce($0) }
    }
}

/// A quantized tensor produced a row slice at a time (rows of its matrix view: the first
/// dimension by the rest), for tensors too large to quantize whole within the memory bound.
///
/// Each slice is a ``QuantizedWeight`` of shape `[rows, columns]` in ``scheme`` holding the
/// codes and scales those rows have in the whole tensor (per tensor: the tensor's one scale).
/// A writer calls ``forEachSlice(gatheringScales:_:)`` once; it returns the whole tensor's scales, as a whole
/// ``QuantizedWeight`` would hold them, and the error of what is stored.
public struct QuantizedSlices {
    /// The scheme of the whole tensor (and of every slice).
    public let scheme: QuantizationDescriptor
    /// The bytes of the whole tensor's codes.
    public let codeByteCount: Int
    /// The whole tensor's scale count.
    public let scaleCount: Int
    private let produce: ((QuantizedWeight) throws -> Void) throws -> QuantizationErrorMetrics?

    /// `produce` calls its argument with every slice in row order and returns the metrics.
    public init(
        scheme: QuantizationDescriptor, shape: [Int],
        produce: @escaping ((QuantizedWeight) throws -> Void) throws -> QuantizationErrorMetrics?
    ) {
        self.scheme = scheme
        codeByteCount = scheme.codeByteCount(elementCount: shape.checkedElementCount ?? 0)
        scaleCount = scheme.scaleCount(for: shape)
        self.produce = produce
    }

    /// Hands every slice to `body` in row order; returns the whole tensor's scales (empty
    /// unless `gatheringScales`: a format whose blocks hold their own scales, as GGUF's Q8_0,
    /// need not hold a giant tensor's scales at once) and metrics.
    public func forEachSlice(
        gatheringScales: Bool = true, _ body: (QuantizedWeight) throws -> Void
    ) throws -> (scales: [Float], metrics: QuantizationErrorMetrics?) {
        var scales: [Float] = []
        if gatheringScales { scales.reserveCapacity(scaleCount) }
        let sharesOneScale = scheme.granularity == .perTensor
        let metrics = try withoutActuallyEscaping(body) { body in
            try produce { slice in
                if gatheringScales && (!sharesOneScale || scales.isEmpty) { scales += slice.scales }
                try body(slice)
            }
        }
        return (scales, metrics)
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
