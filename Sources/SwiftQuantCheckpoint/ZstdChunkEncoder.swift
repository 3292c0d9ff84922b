import CZstd
import SwiftQuantCore
import SwiftQuantKernels

/// Encodes a segment's raw bytes into independent chunks (`Specs/swiftquant-checkpoint.md`),
/// compressing several chunks at once on `Parallelism.threads` threads.
///
/// Chunks are cut at fixed raw offsets and each is compressed on its own, so the output is the
/// same bytes whatever the thread count.
///
/// Not `Sendable`: its zstd contexts and scratch buffers are reused by every `encode` call,
/// so one encoder serves one writer at a time.
public final class ZstdChunkEncoder {
    /// zstd level: 1 by default. On INT8 weights zstd's Huffman stage already sits within 0.5 %
    /// of the order-0 entropy, so higher levels cost time for almost no size.
    public let level: Int32
    public let chunkSize: Int
    /// Chunks compressed per batch: fixed, so the raw-fallback decision never depends on threads.
    static let batchChunks = 8

    private var contexts: [OpaquePointer?] = []
    private var buffers: [UnsafeMutableRawBufferPointer] = []
    private var planeBuffers: [UnsafeMutableRawBufferPointer] = []
    private var staging: UnsafeMutableRawBufferPointer?

    public init(level: Int32 = 1, chunkSize: Int = CheckpointFormat.defaultChunkSize) {
        self.level = level
        self.chunkSize = chunkSize
        let bound = ZSTD_compressBound(chunkSize)
        for _ in 0..<Self.batchChunks {
            let context = ZSTD_createCCtx()
            ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
            // The chunk table's XXH3 already covers every stored byte; zstd's own checksum and
            // the dictionary id would only add bytes.
            ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 0)
            ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1)
            contexts.append(context)
            buffers.append(.allocate(byteCount: bound, alignment: 64))
            planeBuffers.append(.allocate(byteCount: chunkSize, alignment: 64))
        }
    }

    deinit {
        for context in contexts { ZSTD_freeCCtx(context) }
        for buffer in buffers { buffer.deallocate() }
        for buffer in planeBuffers { buffer.deallocate() }
        staging?.deallocate()
    }

    /// Encodes `raw` with `codec` and hands every stored chunk, in order, to `emit`.
    ///
    /// When a compressing codec does not shrink the first batch of chunks, the whole segment is
    /// stored raw instead (tiny scale tensors, random data). Returns the codec actually used
    /// and the chunk table.
    public func encode(
        _ raw: UnsafeRawBufferPointer, codec requested: CheckpointCodec, planeWidth: Int,
        emit: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> (codec: CheckpointCodec, chunks: [CheckpointChunk]) {
        try encode(ByteSlices(raw), codec: requested, planeWidth: planeWidth, emit: emit)
    }

    /// Encodes a segment whose raw bytes arrive in pieces of any size: the same chunks, the
    /// same bytes as encoding them all at once. Pieces are compressed in place a batch of
    /// chunks at a time; only the parts of a batch that straddle two pieces are copied.
    public func encode(
        _ pieces: ByteSlices, codec requested: CheckpointCodec, planeWidth: Int,
        emit: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> (codec: CheckpointCodec, chunks: [CheckpointChunk]) {
        var chunks: [CheckpointChunk] = []
        chunks.reserveCapacity(CheckpointSegment.chunkCount(rawLength: pieces.byteCount, chunkSize: chunkSize))
        var codec = requested
        let batchBytes = Self.batchChunks * chunkSize
        // One batch of raw bytes: compressed, or stored raw, chunk by chunk.
        func process(_ batch: UnsafeRawBufferPointer) throws {
            let count = (batch.count + chunkSize - 1) / chunkSize
            if codec != .raw {
                let sizes = compress(batch, chunkCount: count, codec: codec, planeWidth: planeWidth)
                if chunks.isEmpty && (sizes.contains(where: { $0 < 0 }) || sizes.reduce(0, +) >= batch.count) {
                    codec = .raw
                } else {
                    for slot in 0..<count {
                        guard sizes[slot] > 0 else {
                            throw CheckpointWriterError.compressionFailed(chunk: chunks.count)
                        }
                        let bytes = UnsafeRawBufferPointer(start: buffers[slot].baseAddress, count: sizes[slot])
                        chunks.append(CheckpointChunk(storedLength: bytes.count, checksum: checkpointChecksum(bytes)))
                        try emit(bytes)
                    }
                    return
                }
            }
            for slot in 0..<count {
                let bytes = UnsafeRawBufferPointer(rebasing: batch[slot * chunkSize..<min(batch.count, (slot + 1) * chunkSize)])
                chunks.append(CheckpointChunk(storedLength: bytes.count, checksum: checkpointChecksum(bytes)))
                try emit(bytes)
            }
        }
        var staged = 0
        var seen = 0
        try pieces.forEachPiece { piece in
            seen += piece.count
            var offset = 0
            if staged > 0 {
                let take = min(batchBytes - staged, piece.count)
                stagingBuffer().baseAddress!.advanced(by: staged).copyMemory(from: piece.baseAddress!, byteCount: take)
                staged += take
                offset = take
                if staged == batchBytes {
                    try process(UnsafeRawBufferPointer(stagingBuffer()))
                    staged = 0
                }
            }
            while piece.count - offset >= batchBytes {
                try process(UnsafeRawBufferPointer(rebasing: piece[offset..<offset + batchBytes]))
                offset += batchBytes
            }
            if offset < piece.count && staged == 0 && seen == pieces.byteCount {
                // The segment's last, partial batch: compressed in place, not copied.
                try process(UnsafeRawBufferPointer(rebasing: piece[offset...]))
            } else if offset < piece.count {
                stagingBuffer().baseAddress!.copyMemory(from: piece.baseAddress! + offset, byteCount: piece.count - offset)
                staged = piece.count - offset
            }
        }
        if staged > 0 { try process(UnsafeRawBufferPointer(rebasing: stagingBuffer()[0..<staged])) }
        return (codec, chunks)
    }

    /// A batch's worth of bytes, allocated on first use and kept for the encoder's life.
    private func stagingBuffer() -> UnsafeMutableRawBufferPointer {
        if let staging { return staging }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.batchChunks * chunkSize, alignment: 64)
        staging = buffer
        return buffer
    }

    /// Compresses the `chunkCount` chunks of `batch` into `buffers[slot]`; the sizes (negative on error).
    private func compress(
        _ batch: UnsafeRawBufferPointer, chunkCount: Int, codec: CheckpointCodec, planeWidth: Int
    ) -> [Int] {
        var sizes = [Int](repeating: -1, count: chunkCount)
        let workers = min(Parallelism.threads, chunkCount)
        let input = batch
        let chunkSize = self.chunkSize
        sizes.withUnsafeMutableBufferPointer { results in
            performConcurrently(iterations: workers) { worker in
                for slot in stride(from: worker, to: chunkCount, by: workers) {
                    let range = slot * chunkSize..<min(input.count, (slot + 1) * chunkSize)
                    var source = UnsafeRawBufferPointer(rebasing: input[range])
                    if codec == .zstdPlanes {
                        let planes = UnsafeMutableRawBufferPointer(rebasing: self.planeBuffers[slot][0..<range.count])
                        BytePlanes.split(source, width: planeWidth, into: planes)
                        source = UnsafeRawBufferPointer(planes)
                    }
                    let buffer = self.buffers[slot]
                    let written = ZSTD_compress2(
                        self.contexts[slot], buffer.baseAddress, buffer.count, source.baseAddress, source.count)
                    results[slot] = ZSTD_isError(written) != 0 ? -1 : written
                }
            }
        }
        return sizes
    }
}
