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
        let count = CheckpointSegment.chunkCount(rawLength: raw.count, chunkSize: chunkSize)
        var chunks: [CheckpointChunk] = []
        chunks.reserveCapacity(count)
        var codec = requested
        var first = 0
        while first < count {
            let batch = first..<min(first + Self.batchChunks, count)
            if codec == .raw {
                for index in batch {
                    let bytes = UnsafeRawBufferPointer(rebasing: raw[rawRange(index, raw.count)])
                    chunks.append(CheckpointChunk(storedLength: bytes.count, checksum: checkpointChecksum(bytes)))
                    try emit(bytes)
                }
                first = batch.upperBound
                continue
            }
            let sizes = compress(raw, chunks: batch, codec: codec, planeWidth: planeWidth)
            if first == 0 {
                let rawTotal = batch.reduce(0) { $0 + rawRange($1, raw.count).count }
                if sizes.contains(where: { $0 < 0 }) || sizes.reduce(0, +) >= rawTotal {
                    codec = .raw
                    continue
                }
            }
            for (slot, index) in batch.enumerated() {
                guard sizes[slot] > 0 else {
                    throw CheckpointWriterError.compressionFailed(chunk: index)
                }
                let bytes = UnsafeRawBufferPointer(start: buffers[slot].baseAddress, count: sizes[slot])
                chunks.append(CheckpointChunk(storedLength: bytes.count, checksum: checkpointChecksum(bytes)))
                try emit(bytes)
            }
            first = batch.upperBound
        }
        return (codec, chunks)
    }

    private func rawRange(_ index: Int, _ total: Int) -> Range<Int> {
        index * chunkSize..<min((index + 1) * chunkSize, total)
    }

    /// Compresses the chunks of `batch` into `buffers[slot]`; the sizes (negative on error).
    private func compress(
        _ raw: UnsafeRawBufferPointer, chunks batch: Range<Int>, codec: CheckpointCodec, planeWidth: Int
    ) -> [Int] {
        var sizes = [Int](repeating: -1, count: batch.count)
        let workers = min(Parallelism.threads, batch.count)
        let total = raw.count
        let input = raw
        sizes.withUnsafeMutableBufferPointer { results in
            performConcurrently(iterations: workers) { worker in
                for slot in stride(from: worker, to: batch.count, by: workers) {
                    let range = self.rawRange(batch.lowerBound + slot, total)
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
