import Foundation
import Testing
import SwiftQuant

/// The chunk encoder's workers hand their chunks to the writer themselves, in chunk order
/// (after a segment's first batch, which decides the codec): the stream must not depend on the
/// thread count, and an error in one delivery must stop the rest.
@Suite struct ZstdChunkEncoderTests {
    /// 37½ chunks of 1 KiB of small, compressible values: five batches of eight and a partial one.
    static let raw: [UInt8] = {
        var state: UInt32 = 12345
        return (0..<(37 * 1024 + 512)).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 28)
        }
    }()

    struct Emitted: Equatable {
        var chunks: [CheckpointChunk]
        var stored: [[UInt8]]
    }

    /// Encodes `raw` in uneven pieces (some straddling batches) on `threads` threads.
    func encode(threads: Int, failAt: Int? = nil, emitted calls: inout Int) throws -> Emitted {
        let encoder = ZstdChunkEncoder(level: 1, chunkSize: 1024)
        var stored: [[UInt8]] = []
        var count = 0
        defer { calls = count }
        let chunks = try Self.raw.withUnsafeBytes { bytes in
            let pieces = ByteSlices(byteCount: bytes.count) { piece in
                var start = 0
                for size in [700, 9000, 3, 20_000] {
                    try piece(UnsafeRawBufferPointer(rebasing: bytes[start..<start + size]))
                    start += size
                }
                try piece(UnsafeRawBufferPointer(rebasing: bytes[start...]))
            }
            return try Parallelism.withThreads(threads) {
                try encoder.encode(pieces, codec: .zstd, planeWidth: 1) { chunk in
                    count += 1
                    if count == failAt { throw OutputFileError.writeFailed(path: "test", errno: 28) }
                    stored.append([UInt8](chunk))
                }
            }
        }
        #expect(chunks.codec == .zstd)
        return Emitted(chunks: chunks.chunks, stored: stored)
    }

    @Test func chunksArriveInOrderWhateverTheThreadCount() throws {
        var calls = 0
        let reference = try encode(threads: 1, emitted: &calls)
        #expect(reference.chunks.count == 38)
        #expect(calls == 38)
        // Each table entry describes the bytes emitted at its position.
        for (chunk, bytes) in zip(reference.chunks, reference.stored) {
            #expect(chunk.storedLength == bytes.count)
            #expect(chunk.checksum == bytes.withUnsafeBytes { checkpointChecksum($0) })
        }
        // Compressed: the values use 4 bits of each byte.
        #expect(reference.stored.reduce(0) { $0 + $1.count } < Self.raw.count * 3 / 4)
        for threads in [2, 3, 8] {
            #expect(try encode(threads: threads, emitted: &calls) == reference, "threads: \(threads)")
        }
        // In one piece, all batches after the first stream through the workers in one call.
        for threads in [1, 2] {
            var stored: [[UInt8]] = []
            let whole = try Parallelism.withThreads(threads) {
                try Self.raw.withUnsafeBytes { bytes in
                    try ZstdChunkEncoder(level: 1, chunkSize: 1024).encode(bytes, codec: .zstd, planeWidth: 1) { stored.append([UInt8]($0)) }
                }
            }
            #expect(Emitted(chunks: whole.chunks, stored: stored) == reference, "threads: \(threads)")
        }
    }

    @Test(arguments: [2, 8])
    func aFailedDeliveryStopsTheRest(threads: Int) throws {
        var calls = 0
        // Chunk 12 lies in the second batch, whose chunks the workers deliver themselves.
        #expect(throws: OutputFileError.self) { try encode(threads: threads, failAt: 12, emitted: &calls) }
        #expect(calls == 12)
    }
}
