import SwiftQuantCore
import SwiftQuantKernels

/// Writes the SwiftQuant checkpoint format (`Specs/swiftquant-checkpoint.md`) as tensors
/// stream in.
///
/// The header comes first in the file but is only known at the end (compressed sizes), so
/// ``begin(tensors:metadata:)`` reserves an upper bound of its size, tensors are written after
/// it, and ``finish()`` fills it in. The file holds no timestamps: the same input and options
/// give the same bytes, whatever the thread count.
public final class CheckpointWriter: TensorWriter {
    /// How tensors are stored.
    public struct Options: Sendable {
        /// `nil` stores every tensor raw (memory-mappable, zero-copy on load).
        public var compressionLevel: Int32?
        public var chunkSize: Int
        public var alignment: Int

        public init(
            compressionLevel: Int32? = 1, chunkSize: Int = CheckpointFormat.defaultChunkSize,
            alignment: Int = CheckpointFormat.defaultAlignment
        ) {
            self.compressionLevel = compressionLevel
            self.chunkSize = chunkSize
            self.alignment = alignment
        }
    }

    public let output: AtomicOutputFile
    public let options: Options
    private let encoder: ZstdChunkEncoder
    private var metadata: [String: MetadataValue] = [:]
    private var expected: [TensorInfo] = []
    private var entries: [CheckpointEntry] = []
    private var dataOffset = 0
    private var position = 0

    public init(output: AtomicOutputFile, options: Options = Options()) {
        self.output = output
        self.options = options
        encoder = ZstdChunkEncoder(level: options.compressionLevel ?? 1, chunkSize: options.chunkSize)
    }

    /// Symmetric INT8 at every granularity: the only quantized values the format defines.
    public func canStore(_ scheme: QuantizationDescriptor) -> Bool {
        if case .symmetricInt8 = scheme { return true }
        return false
    }

    public func begin(tensors: [TensorInfo], metadata: [String: MetadataValue]) throws {
        self.metadata = metadata
        expected = tensors
        var reserve = CheckpointHeaderEncoder.metadataSize(metadata) + 4
        for tensor in tensors { reserve += CheckpointHeaderEncoder.entrySizeBound(for: tensor, chunkSize: options.chunkSize) }
        dataOffset = align(CheckpointFormat.preambleSize + reserve)
        position = dataOffset
    }

    public func write(_ tensor: ConvertedTensor) throws {
        guard entries.count < expected.count, expected[entries.count].name.hasSameBytes(as: tensor.name) else {
            throw TensorWriterError.unexpectedTensor(name: tensor.name)
        }
        let compress = options.compressionLevel != nil
        switch tensor.content {
        case .quantized(let weight, let metrics):
            let granularity = try storedGranularity(weight.scheme, tensor: tensor.name)
            let valueSegment = try weight.codes.withUnsafeBytes { codes in
                try writeSegment(ByteSlices(codes), codec: compress ? .zstd : .raw, planeWidth: 1)
            }
            let scaleSegment = try writeScales(weight.scales)
            entries.append(CheckpointEntry(
                name: tensor.name, dtype: .i8, sourceDType: tensor.sourceDType, shape: tensor.shape,
                quantization: granularity, metrics: metrics, values: valueSegment, scales: scaleSegment))
        case .quantizedSlices(let slices):
            // The codes stream through the chunk encoder slice by slice; the scales (a small
            // fraction of the codes) are gathered and follow as their own segment, as for a whole weight.
            let granularity = try storedGranularity(slices.scheme, tensor: tensor.name)
            var gathered: (scales: [Float], metrics: QuantizationErrorMetrics?) = ([], nil)
            let codes = ByteSlices(byteCount: slices.codeByteCount) { piece in
                gathered = try slices.forEachSlice { slice in try slice.codes.withUnsafeBytes { try piece($0) } }
            }
            let valueSegment = try writeSegment(codes, codec: compress ? .zstd : .raw, planeWidth: 1)
            let scaleSegment = try writeScales(gathered.scales)
            entries.append(CheckpointEntry(
                name: tensor.name, dtype: .i8, sourceDType: tensor.sourceDType, shape: tensor.shape,
                quantization: granularity, metrics: gathered.metrics, values: valueSegment, scales: scaleSegment))
        case .kept(let dtype, let bytes):
            try writeKept(tensor, dtype: dtype, ByteSlices(bytes))
        case .keptSlices(let dtype, let pieces):
            try writeKept(tensor, dtype: dtype, pieces)
        }
    }

    /// The granularity of a symmetric INT8 scheme, the only one the format stores.
    private func storedGranularity(_ scheme: QuantizationDescriptor, tensor: String) throws -> Granularity {
        guard case .symmetricInt8(let granularity) = scheme else {
            throw TensorWriterError.unsupportedScheme(tensor: tensor, scheme: scheme, format: "SwiftQuant checkpoint")
        }
        return granularity
    }

    private func writeScales(_ scales: [Float]) throws -> CheckpointSegment {
        try scales.withUnsafeBytes { scales in
            try writeSegment(ByteSlices(scales), codec: options.compressionLevel != nil ? .zstdPlanes : .raw, planeWidth: 4)
        }
    }

    private func writeKept(_ tensor: ConvertedTensor, dtype: DType, _ bytes: ByteSlices) throws {
        // The spec's dtype table has no ggml block types: a reader would refuse the file.
        guard !dtype.isBlockQuantized else {
            throw CheckpointWriterError.blockTypeNotStorable(tensor: tensor.name, dtype: dtype)
        }
        let compress = options.compressionLevel != nil
        var codec: CheckpointCodec = compress ? .zstd : .raw
        var width = 1
        if compress, dtype.isFloatingPoint, let size = dtype.elementSize, size > 1 {
            codec = .zstdPlanes
            width = size
        }
        let segment = try writeSegment(bytes, codec: codec, planeWidth: width, release: tensor.releaseInputPages)
        entries.append(CheckpointEntry(
            name: tensor.name, dtype: dtype, sourceDType: tensor.sourceDType, shape: tensor.shape,
            quantization: nil, metrics: nil, values: segment, scales: nil))
    }

    public func finish() throws {
        guard entries.count == expected.count else {
            throw TensorWriterError.missingTensors(count: expected.count - entries.count)
        }
        let header = CheckpointHeaderEncoder.header(metadata: metadata, entries: entries)
        guard CheckpointFormat.preambleSize + header.count <= dataOffset else {
            throw TensorWriterError.headerTooLarge(bytes: header.count, reserved: dataOffset - CheckpointFormat.preambleSize)
        }
        let preamble = CheckpointHeaderEncoder.preamble(
            alignment: options.alignment, headerLength: header.count, dataOffset: dataOffset, fileLength: position,
            headerChecksum: header.withUnsafeBytes { checkpointChecksum($0) })
        var front = preamble + header
        front += [UInt8](repeating: 0, count: dataOffset - front.count)
        try front.withUnsafeBytes { try output.write($0, at: 0) }
    }

    private func align(_ offset: Int) -> Int {
        (offset + options.alignment - 1) / options.alignment * options.alignment
    }

    private func writeSegment(
        _ raw: ByteSlices, codec: CheckpointCodec, planeWidth: Int, release: () -> Void = {}
    ) throws -> CheckpointSegment {
        let start = align(position)
        if start > position { try pad(to: start) }
        var sinceRelease = 0
        let (used, chunks) = try encoder.encode(raw, codec: codec, planeWidth: planeWidth) { bytes in
            try output.write(bytes, at: position)
            position += bytes.count
            sinceRelease += 1
            if sinceRelease == 64 {
                release()
                sinceRelease = 0
            }
        }
        let storedLength = position - start
        try pad(to: align(position))
        return CheckpointSegment(
            codec: used, planeWidth: used == .zstdPlanes ? planeWidth : 1, offset: start, rawLength: raw.byteCount,
            storedLength: storedLength, chunkSize: encoder.chunkSize, chunks: chunks)
    }

    /// Writes zeros up to `offset`, so the file has no holes and ends aligned.
    private func pad(to offset: Int) throws {
        guard offset > position else { return }
        let zeros = [UInt8](repeating: 0, count: offset - position)
        try zeros.withUnsafeBytes { try output.write($0, at: position) }
        position = offset
    }
}

/// Errors from the checkpoint writer that are its own: zstd failing.
public enum CheckpointWriterError: Error, Equatable, Sendable, CustomStringConvertible {
    case compressionFailed(chunk: Int)
    /// A kept tensor in a ggml block type (Q8_0, Q4_K, …): the format stores plain dtypes only.
    case blockTypeNotStorable(tensor: String, dtype: DType)

    public var description: String {
        switch self {
        case .compressionFailed(let chunk):
            "zstd failed to compress chunk \(chunk); write the checkpoint uncompressed instead"
        case .blockTypeNotStorable(let tensor, let dtype):
            "tensor '\(printableInMessage(tensor))' is \(dtype.rawValue), a ggml block type a SwiftQuant checkpoint cannot store; keep it as F32 or quantize it"
        }
    }
}
