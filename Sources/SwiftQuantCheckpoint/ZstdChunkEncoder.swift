import CZstd
import Dispatch
import SwiftQuantCore
import SwiftQuantKernels
import Synchronization

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
    /// same bytes as encoding them all at once. Pieces are compressed in place: the first batch
    /// of chunks alone (it decides whether the segment is stored raw), then every whole batch
    /// left in a piece in one stream; only the parts of a batch that straddle two pieces are copied.
    public func encode(
        _ pieces: ByteSlices, codec requested: CheckpointCodec, planeWidth: Int,
        emit: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> (codec: CheckpointCodec, chunks: [CheckpointChunk]) {
        var chunks: [CheckpointChunk] = []
        chunks.reserveCapacity(CheckpointSegment.chunkCount(rawLength: pieces.byteCount, chunkSize: chunkSize))
        var codec = requested
        let batchBytes = Self.batchChunks * chunkSize
        // One compressed chunk, in chunk order: recorded and emitted from its slot's buffer.
        func store(_ slot: Int, size: Int, checksum: UInt64) throws {
            guard size > 0 else { throw CheckpointWriterError.compressionFailed(chunk: chunks.count) }
            chunks.append(CheckpointChunk(storedLength: size, checksum: checksum))
            try emit(UnsafeRawBufferPointer(start: buffers[slot].baseAddress, count: size))
        }
        // A batch of raw bytes (any number of chunks once the codec is settled, else at most
        // one batch): compressed, or stored raw, chunk by chunk.
        func process(_ batch: UnsafeRawBufferPointer) throws {
            let count = (batch.count + chunkSize - 1) / chunkSize
            if codec != .raw && !chunks.isEmpty {
                // The codec is settled: each chunk is emitted by the worker that compressed it,
                // as soon as the chunks before it are out, so writing overlaps compressing.
                try compress(batch, chunkCount: count, codec: codec, planeWidth: planeWidth, delivering: true, deliver: store)
                return
            }
            if codec != .raw {
                let compressed = try compress(batch, chunkCount: count, codec: codec, planeWidth: planeWidth, delivering: false)
                if compressed.contains(where: { $0.size < 0 }) || compressed.reduce(0, { $0 + $1.size }) >= batch.count {
                    codec = .raw
                } else {
                    for slot in 0..<count { try store(slot, size: compressed[slot].size, checksum: compressed[slot].checksum) }
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
                // Once the first batch has settled the codec, the piece's whole batches (in the
                // segment's last piece, all the rest) stream through the workers with no pause
                // between batches.
                var take = batchBytes
                if !chunks.isEmpty {
                    take = seen == pieces.byteCount ? piece.count - offset : (piece.count - offset) / batchBytes * batchBytes
                }
                try process(UnsafeRawBufferPointer(rebasing: piece[offset..<offset + take]))
                offset += take
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

    /// Compresses the `chunkCount` chunks of `batch`, chunk `i` into slot `i % batchChunks`
    /// (its context and buffers); their sizes (negative on error) and checksums. Without
    /// `delivering`, at most `batchChunks` chunks.
    ///
    /// When `delivering`, every chunk is also handed to `deliver`, in chunk order, by the worker
    /// that compressed it, once the chunks before it have been delivered: one worker writes while
    /// the other compresses; a chunk waits for its slot until the chunk before in that slot is
    /// delivered. Workers claim chunks in increasing order and a chunk only waits for earlier
    /// ones, held by running workers, so there is no deadlock, even when the workers run one after
    /// the other on one thread. Delivery stops at the first error, which is rethrown.
    @discardableResult
    private func compress(
        _ batch: UnsafeRawBufferPointer, chunkCount: Int, codec: CheckpointCodec, planeWidth: Int,
        delivering: Bool, deliver: (_ slot: Int, _ size: Int, _ checksum: UInt64) throws -> Void = { _, _, _ in }
    ) throws -> [(size: Int, checksum: UInt64)] {
        precondition(delivering || chunkCount <= Self.batchChunks)
        var results = [(size: Int, checksum: UInt64)](repeating: (-1, 0), count: chunkCount)
        let workers = min(Parallelism.threads, chunkCount)
        let input = batch
        let chunkSize = self.chunkSize
        let claims = ChunkClaims(count: chunkCount, slots: Self.batchChunks)
        var failure: (any Error)?
        results.withUnsafeMutableBufferPointer { results in
            performConcurrently(iterations: workers) { _ in
                while let chunk = claims.next() {
                    let slot = chunk % Self.batchChunks
                    claims.waitForSlot(chunk)
                    var result: (size: Int, checksum: UInt64) = (-1, 0)
                    if !claims.failed {
                        let range = chunk * chunkSize..<min(input.count, (chunk + 1) * chunkSize)
                        var source = UnsafeRawBufferPointer(rebasing: input[range])
                        if codec == .zstdPlanes {
                            let planes = UnsafeMutableRawBufferPointer(rebasing: self.planeBuffers[slot][0..<range.count])
                            BytePlanes.split(source, width: planeWidth, into: planes)
                            source = UnsafeRawBufferPointer(planes)
                        }
                        let buffer = self.buffers[slot]
                        let written = ZSTD_compress2(
                            self.contexts[slot], buffer.baseAddress, buffer.count, source.baseAddress, source.count)
                        if ZSTD_isError(written) == 0 {
                            result = (written, checkpointChecksum(UnsafeRawBufferPointer(start: buffer.baseAddress, count: written)))
                        }
                    }
                    results[chunk] = result
                    if delivering {
                        claims.waitForTurn(chunk)
                        // Only the chunk whose turn it is runs this: `failure` is never touched
                        // concurrently. Chunks skipped after a failure are never delivered.
                        if failure == nil {
                            do { try deliver(slot, result.size, result.checksum) } catch {
                                failure = error
                                claims.fail()
                            }
                        }
                    }
                    claims.endTurn(chunk, delivering: delivering)
                }
            }
        }
        if let failure { throw failure }
        return results
    }
}

/// The chunks of one `compress` call, claimed by workers in increasing order, compressed into
/// slots reused every `slots` chunks, and delivered in turn.
///
/// Semaphores are created at 0 and each signal is matched by one wait: libdispatch traps when
/// a semaphore is released below its initial value.
private final class ChunkClaims: Sendable {
    private let count: Int
    private let slots: Int
    private let claimed = Atomic<Int>(0)
    private let failure = Atomic<Bool>(false)
    /// `turns[i]` is signalled when chunk `i` may be delivered (chunk 0 may from the start).
    private let turns: [DispatchSemaphore]
    /// `freed[s]` is signalled when slot `s` is free for the next chunk using it.
    private let freed: [DispatchSemaphore]

    init(count: Int, slots: Int) {
        self.count = count
        self.slots = slots
        turns = (0..<count).map { _ in DispatchSemaphore(value: 0) }
        freed = (0..<min(slots, count)).map { _ in DispatchSemaphore(value: 0) }
    }

    /// The next unclaimed chunk, or `nil` when all are claimed.
    func next() -> Int? {
        let chunk = claimed.add(1, ordering: .relaxed).oldValue
        return chunk < count ? chunk : nil
    }

    /// Whether a delivery failed: the chunks after it are skipped.
    var failed: Bool { failure.load(ordering: .acquiring) }

    func fail() { failure.store(true, ordering: .releasing) }

    /// Waits until the chunk `slots` before `chunk`, in the same slot, is done with it.
    func waitForSlot(_ chunk: Int) {
        if chunk >= slots { freed[chunk % slots].wait() }
    }

    func waitForTurn(_ chunk: Int) {
        if chunk > 0 { turns[chunk].wait() }
    }

    /// Passes the turn to the next chunk (when chunks are delivered) and frees `chunk`'s slot.
    func endTurn(_ chunk: Int, delivering: Bool) {
        if delivering && chunk + 1 < count { turns[chunk + 1].signal() }
        if chunk + slots < count { freed[chunk % slots].signal() }
    }
}
