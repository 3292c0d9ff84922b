import CZstd
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftQuantCore
import SwiftQuantKernels

extension CheckpointFile {
    public func data(for name: String) throws -> TensorData {
        let entry = try entry(named: name)
        let (bytes, owner) = try decode(entry.values, of: entry)
        return TensorData(info: entry.tensorInfo, bytes: bytes, owner: owner)
    }

    /// The INT8 codes and scales of a quantized tensor as a `QuantizedWeight`, or `nil`
    /// for a kept tensor. Codes stored with the raw codec stay in the memory map (zero-copy; the
    /// weight keeps the file mapped); compressed ones are decoded once into memory the weight owns.
    public func quantizedWeight(for name: String) throws -> QuantizedWeight? {
        let entry = try entry(named: name)
        guard let granularity = entry.quantization, let scaleSegment = entry.scales else { return nil }
        let (values, owner) = try decode(entry.values, of: entry)
        let scales = try decodeScales(scaleSegment, of: entry)
        do {
            return try QuantizedWeight(
                shape: entry.shape, scheme: .symmetricInt8(granularity),
                codes: SharedBytes(viewing: values, owner: owner), scales: scales)
        } catch {
            // The directory was validated on open, so this means the entry contradicts itself.
            throw CheckpointError.malformedHeader(
                path: path, offset: entry.values.offset, reason: "tensor '\(printableInMessage(name))': \(error)")
        }
    }

    /// Float32 values: dequantized (`q × scale`) for quantized tensors, decoded for kept floats.
    public func floats(for name: String) throws -> [Float] {
        if let weight = try quantizedWeight(for: name) {
            return dequantize(weight).storage
        }
        let entry = try entry(named: name)
        guard let encoding = entry.dtype.floatEncoding else {
            throw TensorSourceError.notDecodable(path: path, name: name, dtype: entry.dtype)
        }
        let (bytes, owner) = try decode(entry.values, of: entry)
        return withExtendedLifetime(owner) { decodeFloats(bytes, encoding: encoding) }
    }

    public func releasePages(for name: String) {
        guard let entry = try? entry(named: name) else { return }
        for segment in [entry.values, entry.scales].compactMap({ $0 }) {
            file.releasePages(segment.offset..<segment.offset + segment.storedLength)
        }
    }

    /// Checks every chunk checksum of `name` and that every compressed chunk decodes, without
    /// keeping the result: what `swiftquant verify` runs per tensor.
    public func verify(tensorNamed name: String) throws {
        let entry = try entry(named: name)
        for segment in [entry.values, entry.scales].compactMap({ $0 }) {
            _ = try decode(segment, of: entry)
        }
        releasePages(for: name)
    }

    /// The Float32 scales of a segment.
    func decodeScales(_ segment: CheckpointSegment, of entry: CheckpointEntry) throws(CheckpointError) -> [Float] {
        let (bytes, owner) = try decode(segment, of: entry)
        return withExtendedLifetime(owner) {
            (0..<segment.rawLength / 4).map {
                Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
    }

    /// A segment's raw bytes: a view into the map for `raw`, a new buffer otherwise.
    /// Every chunk's checksum is verified first.
    func decode(_ segment: CheckpointSegment, of entry: CheckpointEntry) throws(CheckpointError) -> (UnsafeRawBufferPointer, AnyObject) {
        let stored = UnsafeRawBufferPointer(rebasing: file.bytes[segment.offset..<segment.offset + segment.storedLength])
        if segment.codec == .raw {
            var position = 0
            for (index, chunk) in segment.chunks.enumerated() {
                let bytes = UnsafeRawBufferPointer(rebasing: stored[position..<position + chunk.storedLength])
                guard checkpointChecksum(bytes) == chunk.checksum else {
                    throw .chunkChecksumMismatch(path: path, tensor: entry.name, chunk: index, offset: segment.offset + position)
                }
                position += chunk.storedLength
            }
            return (stored, file)
        }
        // Before allocating the decoded size: no zstd frame expands more than 32,768-fold (a
        // 4-byte RLE block per 128 KiB), so a chunk claiming more is damaged or crafted, and a
        // tiny file cannot make the reader allocate gigabytes.
        var chunkStart = segment.offset
        for (index, chunk) in segment.chunks.enumerated() {
            guard segment.rawRange(ofChunk: index).count / 32_768 <= chunk.storedLength else {
                throw .corruptChunk(
                    path: path, tensor: entry.name, chunk: index, offset: chunkStart,
                    reason: "\(chunk.storedLength) stored bytes cannot hold \(segment.rawRange(ofChunk: index).count) bytes of zstd output")
            }
            chunkStart += chunk.storedLength
        }
        // A crafted header can claim a huge tensor that compresses to nothing: a failed
        // allocation is an error, not a crash.
        guard let output = OwnedBytes(allocating: segment.rawLength, alignment: 64) else {
            throw .corruptChunk(path: path, tensor: entry.name, chunk: 0, offset: segment.offset, reason: "cannot allocate \(segment.rawLength) bytes")
        }
        var starts: [Int] = []
        starts.reserveCapacity(segment.chunks.count)
        var position = 0
        for chunk in segment.chunks {
            starts.append(position)
            position += chunk.storedLength
        }
        let failures = CheckpointChunkFailures()
        let workers = min(Parallelism.threads, segment.chunks.count)
        let path = self.path
        let destination = output.mutableBytes
        let storedBytes = stored
        let chunkStarts = starts
        performConcurrently(iterations: workers) { worker in
            let context = ZSTD_createDCtx()
            defer { ZSTD_freeDCtx(context) }
            var planes: OwnedBytes?
            if segment.codec == .zstdPlanes { planes = OwnedBytes(allocating: min(segment.chunkSize, segment.rawLength), alignment: 64) }
            for index in stride(from: worker, to: segment.chunks.count, by: workers) {
                let chunk = segment.chunks[index]
                let offset = segment.offset + chunkStarts[index]
                let source = UnsafeRawBufferPointer(rebasing: storedBytes[chunkStarts[index]..<chunkStarts[index] + chunk.storedLength])
                guard checkpointChecksum(source) == chunk.checksum else {
                    failures.record(index, .chunkChecksumMismatch(path: path, tensor: entry.name, chunk: index, offset: offset))
                    return
                }
                let raw = segment.rawRange(ofChunk: index)
                let target = UnsafeMutableRawBufferPointer(rebasing: destination[raw])
                let frameTarget = segment.codec == .zstdPlanes
                    ? UnsafeMutableRawBufferPointer(rebasing: planes!.mutableBytes[0..<raw.count]) : target
                if let reason = decompressFrame(source, into: frameTarget, context: context) {
                    failures.record(index, .corruptChunk(path: path, tensor: entry.name, chunk: index, offset: offset, reason: reason))
                    return
                }
                if segment.codec == .zstdPlanes {
                    BytePlanes.join(UnsafeRawBufferPointer(frameTarget), width: segment.planeWidth, into: target)
                }
            }
        }
        if let failure = failures.first { throw failure }
        return (output.bytes, output)
    }
}

/// Decompresses exactly one zstd frame of exactly `destination.count` bytes; a reason on failure.
private func decompressFrame(
    _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, context: OpaquePointer?
) -> String? {
    let frameSize = ZSTD_findFrameCompressedSize(source.baseAddress, source.count)
    if ZSTD_isError(frameSize) != 0 { return String(cString: ZSTD_getErrorName(frameSize)) }
    guard frameSize == source.count else { return "the chunk holds more than one zstd frame" }
    let contentSize = ZSTD_getFrameContentSize(source.baseAddress, source.count)
    guard contentSize == UInt64(destination.count) else {
        return "the frame declares \(contentSize) bytes instead of \(destination.count)"
    }
    let written = ZSTD_decompressDCtx(context, destination.baseAddress, destination.count, source.baseAddress, source.count)
    if ZSTD_isError(written) != 0 { return String(cString: ZSTD_getErrorName(written)) }
    guard written == destination.count else { return "the frame decoded to \(written) bytes instead of \(destination.count)" }
    return nil
}

/// The first failing chunk (by index) of a parallel decode, so the error does not depend on timing.
private final class CheckpointChunkFailures: Sendable {
    private let failures = Mutex<[Int: CheckpointError]>([:])

    func record(_ index: Int, _ error: CheckpointError) { failures.withLock { $0[index] = error } }
    var first: CheckpointError? { failures.withLock { $0.min { $0.key < $1.key }?.value } }
}
