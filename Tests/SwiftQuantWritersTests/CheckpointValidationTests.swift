import Foundation
import Testing
import SwiftQuant

/// Damaged and crafted checkpoints: every one must fail with a `CheckpointError` naming the
/// problem, never crash, hang or allocate what the file claims.
@Suite struct CheckpointValidationTests {
    let folder = temporaryFolder()

    func goodFile(compressed: Bool = true) throws -> [UInt8] {
        let path = try writeCheckpoint(
            try standardFixture(), to: folder + "/good-\(compressed).swq",
            options: .init(compressionLevel: compressed ? 1 : nil, chunkSize: 4096))
        return fileBytes(path)
    }

    func open(_ bytes: [UInt8], name: String = "bad.swq") throws -> CheckpointFile {
        let path = folder + "/" + name
        writeBytes(bytes, to: path)
        return try CheckpointFile(path: path)
    }

    func openError(_ bytes: [UInt8]) -> CheckpointError? {
        do {
            _ = try open(bytes)
            return nil
        } catch let error as CheckpointError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    /// Reads every tensor, returning the first error.
    func readEverything(_ checkpoint: CheckpointFile) -> Error? {
        for tensor in checkpoint.tensors {
            do {
                _ = try checkpoint.data(for: tensor.name)
                if tensor.storage?.quantization != nil { _ = try checkpoint.quantizedWeight(for: tensor.name) }
            } catch {
                return error
            }
        }
        return nil
    }

    @Test func notACheckpoint() {
        #expect(openError(Array("{\"hello\": 1}".utf8)) == .notACheckpoint(path: folder + "/bad.swq"))
        #expect(openError([]) == .notACheckpoint(path: folder + "/bad.swq"))
    }

    @Test func truncatedAndExtendedFilesAreRejected() throws {
        let good = try goodFile()
        for length in [8, 40, 63, 64, 100, good.count / 2, good.count - 1] {
            let error = openError(Array(good.prefix(length)))
            #expect(error != nil, "length \(length)")
            if length >= 64 { #expect(error == .wrongLength(path: folder + "/bad.swq", expected: good.count, actual: length)) }
        }
        #expect(openError(good + [0]) == .wrongLength(path: folder + "/bad.swq", expected: good.count, actual: good.count + 1))
    }

    @Test func unknownMajorVersionAsksForAnUpgrade() throws {
        var bytes = try goodFile()
        bytes[8] = 2
        resealHeader(&bytes)
        let error = try #require(openError(bytes))
        #expect(error == .unsupportedVersion(path: folder + "/bad.swq", major: 2, minor: 0))
        #expect(error.description.contains("upgrade swiftquant"))
    }

    @Test func newerMinorVersionStillReads() throws {
        var bytes = try goodFile()
        bytes[10] = 7
        resealHeader(&bytes)
        let checkpoint = try open(bytes)
        #expect(checkpoint.minorVersion == 7)
        #expect(readEverything(checkpoint) == nil)
    }

    @Test func headerDamageIsCaughtByTheChecksum() throws {
        let good = try goodFile()
        for offset in [12, 20, 30, 45, 60, 64, 70, 200] {
            var bytes = good
            bytes[offset] ^= 0x10
            #expect(openError(bytes) != nil, "offset \(offset)")
        }
        var bytes = good
        bytes[100] ^= 1
        #expect(openError(bytes) == .headerChecksumMismatch(path: folder + "/bad.swq", offset: 64))
    }

    @Test func everyFlippedDataByteIsCaughtOnRead() throws {
        for compressed in [true, false] {
            let good = try goodFile(compressed: compressed)
            let checkpoint = try open(good, name: "reference.swq")
            let ranges = checkpoint.entries.flatMap { [$0.values, $0.scales].compactMap { $0 } }
                .filter { $0.storedLength > 0 }.map { $0.offset..<$0.offset + $0.storedLength }
            for (index, range) in ranges.enumerated() {
                var bytes = good
                bytes[range.lowerBound + (range.count * 7 / 13)] ^= 0x40
                let damaged = try open(bytes, name: "damaged-\(compressed)-\(index).swq")
                let error = readEverything(damaged)
                #expect(error is CheckpointError, "segment \(index)")
                if case .chunkChecksumMismatch? = error as? CheckpointError {} else {
                    Issue.record("segment \(index): expected a checksum mismatch, got \(String(describing: error))")
                }
            }
        }
    }

    /// Flips bytes all over the file: opening or reading may fail, but only with a
    /// `CheckpointError`. A file whose checksums were not recomputed and that still reads in
    /// full must read back the original tensors (the flips hit padding, which is not
    /// checksummed); a resealed header may legitimately describe a different valid file.
    @Test func randomDamageNeverCrashes() throws {
        let good = try goodFile()
        let reference = try open(good, name: "reference.swq")
        let original = try reference.tensors.map { tensor in
            let data = try reference.data(for: tensor.name)
            return (tensor.name, withExtendedLifetime(data) { Array(data.bytes) })
        }
        var state: UInt64 = 12345
        var rejected = 0
        for trial in 0..<300 {
            var bytes = good
            for _ in 0..<(1 + trial % 4) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let position = Int(state >> 33) % bytes.count
                bytes[position] ^= UInt8(truncatingIfNeeded: state >> 13) | 1
            }
            let resealed = trial % 2 == 1
            if resealed { resealHeader(&bytes) }
            let checkpoint: CheckpointFile
            do {
                checkpoint = try open(bytes, name: "fuzz.swq")
            } catch {
                #expect(error is CheckpointError, "trial \(trial): opening failed with \(error)")
                rejected += 1
                continue
            }
            if let error = readEverything(checkpoint) {
                #expect(error is CheckpointError, "trial \(trial): reading failed with \(error)")
                rejected += 1
            } else if !resealed {
                let read = try checkpoint.tensors.map { tensor in
                    let data = try checkpoint.data(for: tensor.name)
                    return (tensor.name, withExtendedLifetime(data) { Array(data.bytes) })
                }
                #expect(read.map(\.0) == original.map(\.0), "trial \(trial): damage changed the names unnoticed")
                #expect(read.map(\.1) == original.map(\.1), "trial \(trial): damage changed the values unnoticed")
            }
        }
        // Most flips land in checksummed bytes: a run that rejected nothing did not test damage.
        #expect(rejected > 150, "only \(rejected) of 300 damaged files were rejected")
    }

    /// Offsets of header fields in the standard fixture, found by walking the header.
    struct Layout {
        var tensorCountOffset: Int
        /// Offset of the first entry's `entry_length`.
        var firstEntryOffset: Int
    }

    func layout(_ bytes: [UInt8]) -> Layout {
        func u32(_ at: Int) -> Int { Int(bytes[at..<at + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }) }
        // The fixture's metadata is one string pair.
        var position = 64 + 4
        position += 4 + u32(position)  // key
        position += 1                  // tag
        position += 4 + u32(position)  // string value
        return Layout(tensorCountOffset: position, firstEntryOffset: position + 4)
    }

    func setU32(_ bytes: inout [UInt8], _ at: Int, _ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(at..<at + 4, with: $0) }
    }

    func setU64(_ bytes: inout [UInt8], _ at: Int, _ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(at..<at + 8, with: $0) }
    }

    @Test func craftedCountsAreBoundedByTheHeader() throws {
        let good = try goodFile()
        let fields = layout(good)
        var bytes = good
        setU32(&bytes, fields.tensorCountOffset, .max)
        resealHeader(&bytes)
        let error = try #require(openError(bytes))
        #expect(error.description.contains("tensor count"))

        bytes = good
        setU32(&bytes, 64, .max)
        resealHeader(&bytes)
        #expect(openError(bytes)?.description.contains("metadata count") == true)

        bytes = good
        setU32(&bytes, fields.firstEntryOffset, .max)
        resealHeader(&bytes)
        #expect(openError(bytes) != nil)
    }

    /// The first entry is `embed.weight` [300, 64] F32 kept: its fields sit at fixed places.
    func firstEntryFields(_ bytes: [UInt8]) -> (rank: Int, shape: Int, quantization: Int, values: Int) {
        let entry = layout(bytes).firstEntryOffset + 4
        let name = 4 + "embed.weight".utf8.count
        let rank = entry + name + (4 + 3) + (4 + 3)
        let shape = rank + 1
        let quantization = shape + 16
        return (rank, shape, quantization, quantization + 1 + 8 + 16)
    }

    @Test func craftedEntriesAreRejected() throws {
        let good = try goodFile()
        let fields = firstEntryFields(good)
        let path = folder + "/bad.swq"
        func expectEntryError(_ edit: (inout [UInt8]) -> Void, _ fragment: String) {
            var bytes = good
            edit(&bytes)
            resealHeader(&bytes)
            let error = openError(bytes)
            #expect(error?.description.contains(fragment) == true, "\(fragment): \(String(describing: error))")
            if let error { #expect(error.description.hasPrefix(path)) }
        }
        expectEntryError({ $0[fields.rank] = 9 }, "rank 9")
        expectEntryError({ setU64(&$0, fields.shape, 1 << 62) }, "too many elements")
        expectEntryError({ setU64(&$0, fields.shape, 301) }, "values hold")
        expectEntryError({ $0[fields.quantization] = 9 }, "unknown quantization")
        expectEntryError({ $0[fields.quantization] = 3 }, "group size 0")
        expectEntryError({ $0[fields.values] = 7 }, "codec 7")
        expectEntryError({ $0[fields.values + 1] = 3 }, "plane width 3")
        // Offset pointing before the data section, past the end, unaligned.
        expectEntryError({ setU64(&$0, fields.values + 2, 64) }, "inside the data section")
        expectEntryError({ setU64(&$0, fields.values + 2, UInt64(good.count)) }, "inside the data section")
        expectEntryError({ setU64(&$0, fields.values + 2, UInt64.max / 2) }, "inside the data section")
        // Chunk size 0, then a chunk count that disagrees with the length.
        expectEntryError({ setU64(&$0, fields.values + 26, 0) }, "chunk size 0")
        expectEntryError({ setU64(&$0, fields.values + 34, 1 << 40) }, "chunks but")
    }

    @Test func overlappingSegmentsAreRejected() throws {
        let good = try goodFile()
        let reference = try open(good, name: "reference.swq")
        let fields = firstEntryFields(good)
        var bytes = good
        // Shift the first tensor's values by one alignment step: they now run into the second's.
        setU64(&bytes, fields.values + 2, UInt64(reference.entries[0].values.offset + reference.alignment))
        resealHeader(&bytes)
        let error = openError(bytes)
        #expect(error?.description.contains("overlaps") == true, "\(String(describing: error))")
    }

    @Test func duplicateNamesAreRejected() throws {
        let fixture = try standardFixture()
        let folder = temporaryFolder()
        var twice = fixture
        twice[1].name = fixture[0].name
        // The writer itself does not check names; the reader must.
        let path = try writeCheckpoint(twice, to: folder + "/dup.swq")
        #expect(throws: CheckpointError.self) { try CheckpointFile(path: path) }
    }
}
