import SwiftQuantCore
import SwiftQuantKernels

/// One chunk of a segment: its stored length and the XXH3-64 of its stored bytes.
public struct CheckpointChunk: Sendable, Hashable {
    public var storedLength: Int
    public var checksum: UInt64

    public init(storedLength: Int, checksum: UInt64) {
        self.storedLength = storedLength
        self.checksum = checksum
    }
}

/// A run of stored bytes in the data section: a tensor's values, or its scales.
///
/// The raw bytes are cut into chunks of `chunkSize` (the last one shorter); each chunk is
/// stored on its own, one after the other from `offset`, so any chunk decodes alone.
public struct CheckpointSegment: Sendable, Hashable {
    public var codec: CheckpointCodec
    /// Bytes per value for ``CheckpointCodec/zstdPlanes``; 1 for the other codecs.
    public var planeWidth: Int
    /// Absolute file offset of the first stored byte (a multiple of the alignment).
    public var offset: Int
    /// Bytes once decoded.
    public var rawLength: Int
    /// Bytes in the file: the sum of the chunks' stored lengths.
    public var storedLength: Int
    /// Raw bytes per chunk.
    public var chunkSize: Int
    public var chunks: [CheckpointChunk]

    public init(
        codec: CheckpointCodec, planeWidth: Int, offset: Int, rawLength: Int, storedLength: Int,
        chunkSize: Int, chunks: [CheckpointChunk]
    ) {
        self.codec = codec
        self.planeWidth = planeWidth
        self.offset = offset
        self.rawLength = rawLength
        self.storedLength = storedLength
        self.chunkSize = chunkSize
        self.chunks = chunks
    }

    /// The raw byte range chunk `index` decodes to.
    public func rawRange(ofChunk index: Int) -> Range<Int> {
        let start = index * chunkSize
        return start..<min(start + chunkSize, rawLength)
    }

    /// The number of chunks `rawLength` bytes take at `chunkSize`.
    public static func chunkCount(rawLength: Int, chunkSize: Int) -> Int {
        rawLength == 0 ? 0 : (rawLength - 1) / chunkSize + 1
    }
}

/// One tensor of a checkpoint, as its directory entry describes it.
public struct CheckpointEntry: Sendable, Equatable {
    public var name: String
    /// The type of the stored values: `I8` for a quantized tensor, the kept dtype otherwise.
    public var dtype: DType
    /// The dtype of the source tensor this one was made from.
    public var sourceDType: DType
    /// Row-major shape.
    public var shape: [Int]
    /// The granularity of a quantized tensor; `nil` for a kept one.
    public var quantization: Granularity?
    /// The quantization error against the source, for a quantized tensor.
    public var metrics: QuantizationErrorMetrics?
    public var values: CheckpointSegment
    /// Float32 scales of a quantized tensor (see `scaleCount(shape:granularity:)`).
    public var scales: CheckpointSegment?

    public init(
        name: String, dtype: DType, sourceDType: DType, shape: [Int], quantization: Granularity?,
        metrics: QuantizationErrorMetrics?, values: CheckpointSegment, scales: CheckpointSegment?
    ) {
        self.name = name
        self.dtype = dtype
        self.sourceDType = sourceDType
        self.shape = shape
        self.quantization = quantization
        self.metrics = metrics
        self.values = values
        self.scales = scales
    }

    /// Values and scales, as stored.
    public var storedByteCount: Int { values.storedLength + (scales?.storedLength ?? 0) }

    /// What `inspect` and the `TensorSource` protocol show for this entry.
    public var tensorInfo: TensorInfo {
        TensorInfo(
            name: name, dtype: dtype, shape: shape, byteCount: values.rawLength,
            storage: StorageDetails(
                quantization: quantization, sourceDType: sourceDType, codec: values.codec.name,
                storedByteCount: storedByteCount))
    }
}
