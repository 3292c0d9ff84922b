import SwiftQuantCore
import SwiftQuantCheckpoint
// libFuzzer target: the SwiftQuant checkpoint reader (preamble, header, directory, layout
// checks, then chunk checksums, zstd and byte-plane decoding of every tensor).
//
// Checksums stop almost every mutation at the preamble or header, so the fuzzer would never
// reach the directory parser or the decoders. Unless the input starts with a 0 byte, the
// target first repairs the preamble checksum, the header checksum and every chunk checksum it
// can find (`FUZZ_REPAIR`): the structure behind the checksums is fuzzed as if the attacker
// had forged them, which is exactly the case the reader must survive without them.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let first = bytes.first, first != 0 {
        bytes[0] = CheckpointFormat.magic[0]
        repairChecksums(&bytes)
    }
    let file = bytes.withUnsafeBufferPointer { mapFuzzInput($0.baseAddress, $0.count) }
    do {
        let reader = try CheckpointFile(file: file)
        for entry in reader.entries where entry.values.rawLength <= 1 << 22 && (entry.scales?.rawLength ?? 0) <= 1 << 22 {
            do { try reader.verify(tensorNamed: entry.name) } catch { requireOneLine(error) }
        }
        exerciseTensors(reader)
    } catch {
        requireOneLine(error)
    }
    return 0
}

/// Recomputes the preamble and header checksums; when the header then parses, the chunk
/// checksums too (through the reader's own directory).
private func repairChecksums(_ bytes: inout [UInt8]) {
    guard bytes.count >= 64 else { return }
    func load(_ offset: Int) -> UInt64 {
        bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    }
    func store(_ value: UInt64, _ offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { for k in 0..<8 { bytes[offset + k] = $0[k] } }
    }
    // Make the declared file length true half the time, so truncation is not the only path.
    if bytes[48] & 1 == 0 { store(UInt64(bytes.count), 32) }
    let headerLength = load(16)
    if headerLength <= UInt64(bytes.count - 64) {
        let end = 64 + Int(headerLength)
        store(bytes.withUnsafeBytes { checkpointChecksum(UnsafeRawBufferPointer(rebasing: $0[64..<end])) }, 40)
    }
    store(bytes.withUnsafeBytes { checkpointChecksum(UnsafeRawBufferPointer(rebasing: $0[0..<56])) }, 56)
    // Forge the chunk checksums through a first parse, then write them into the directory.
    let file = bytes.withUnsafeBufferPointer { mapFuzzInput($0.baseAddress, $0.count) }
    guard let reader = try? CheckpointFile(file: file) else { return }
    var patched = false
    for entry in reader.entries {
        for segment in [entry.values, entry.scales].compactMap({ $0 }) {
            var position = segment.offset
            for chunk in segment.chunks {
                let actual = bytes.withUnsafeBytes {
                    checkpointChecksum(UnsafeRawBufferPointer(rebasing: $0[position..<position + chunk.storedLength]))
                }
                if actual != chunk.checksum, let at = findChecksum(chunk.checksum, in: bytes, headerEnd: 64 + Int(headerLength)) {
                    store(actual, at)
                    patched = true
                }
                position += chunk.storedLength
            }
        }
    }
    if patched {
        let end = 64 + Int(headerLength)
        store(bytes.withUnsafeBytes { checkpointChecksum(UnsafeRawBufferPointer(rebasing: $0[64..<end])) }, 40)
        store(bytes.withUnsafeBytes { checkpointChecksum(UnsafeRawBufferPointer(rebasing: $0[0..<56])) }, 56)
    }
}

/// The header offset of a stored checksum value (they are 64-bit hashes: a match is the field).
private func findChecksum(_ value: UInt64, in bytes: [UInt8], headerEnd: Int) -> Int? {
    var offset = 64
    while offset + 8 <= headerEnd {
        let candidate = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        if candidate == value { return offset }
        offset += 1
    }
    return nil
}
