import Foundation
import Testing
import SwiftQuant
@testable import SwiftQuantCheckpoint

/// Single bit flips everywhere in a checkpoint: each is either detected, with an error that
/// names the tensor whose bytes were hit (or the header), or provably harmless: every tensor
/// decodes to exactly the bytes and scales it had. Nothing is ever silently wrong.
///
/// Positions are drawn with a fixed seed from every region of the file (preamble, metadata,
/// directory, the padding after the header, every chunk of every segment, the padding between
/// and after segments), so each region is hit however small it is.
@Suite struct CheckpointBitFlipTests {
    let folder = temporaryFolder()

    /// What a reader can observe of one tensor: its description and every decoded byte.
    struct Decoded: Equatable {
        var info: TensorInfo
        var values: [UInt8]
        var scales: [UInt32]
    }

    /// A region of the file and the tensor that owns it (`nil`: header or padding).
    struct Region {
        enum Kind: String { case preamble, metadata, directory, headerPadding, chunk, dataPadding }
        var kind: Kind
        var range: Range<Int>
        var tensor: String?
    }

    /// Every tensor decoded, or the first error with the tensor it was reading.
    func decodeAll(_ checkpoint: CheckpointFile) -> [String: Result<Decoded, Error>] {
        var result: [String: Result<Decoded, Error>] = [:]
        for info in checkpoint.tensors {
            result[info.name] = Result {
                // The copies happen while the decoded buffers are alive (`owner` holds them).
                if info.storage?.quantization != nil {
                    let tensor = try #require(try checkpoint.quantizedWeight(for: info.name))
                    return tensor.codes.withUnsafeBytes {
                        Decoded(info: info, values: Array($0), scales: tensor.scales.map(\.bitPattern))
                    }
                }
                let data = try checkpoint.data(for: info.name)
                return withExtendedLifetime(data) { Decoded(info: info, values: Array(data.bytes), scales: []) }
            }
        }
        return result
    }

    /// The file's regions, from the reader's directory and the writer's metadata encoding.
    func regions(of checkpoint: CheckpointFile, bytes: [UInt8]) -> [Region] {
        let fileLength = bytes.count
        let headerLength = bytes[16..<24].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        let headerEnd = 64 + Int(headerLength)
        let metadataEnd = 64 + CheckpointHeaderEncoder.metadataSize(checkpoint.metadata)
        var regions = [
            Region(kind: .preamble, range: 0..<64),
            Region(kind: .metadata, range: 64..<metadataEnd),
            Region(kind: .directory, range: metadataEnd..<headerEnd),
            Region(kind: .headerPadding, range: headerEnd..<checkpoint.dataOffset),
        ]
        var chunks: [Region] = []
        for entry in checkpoint.entries {
            for segment in [entry.values, entry.scales].compactMap({ $0 }) {
                var position = segment.offset
                for chunk in segment.chunks {
                    chunks.append(Region(kind: .chunk, range: position..<position + chunk.storedLength, tensor: entry.name))
                    position += chunk.storedLength
                }
            }
        }
        chunks.sort { $0.range.lowerBound < $1.range.lowerBound }
        var gapStart = checkpoint.dataOffset
        for chunk in chunks {
            if chunk.range.lowerBound > gapStart {
                regions.append(Region(kind: .dataPadding, range: gapStart..<chunk.range.lowerBound))
            }
            gapStart = max(gapStart, chunk.range.upperBound)
        }
        if fileLength > gapStart { regions.append(Region(kind: .dataPadding, range: gapStart..<fileLength)) }
        return regions.filter { !$0.range.isEmpty } + chunks
    }

    /// Flips `flipsPerRegion` sampled bits in every region (more in the header and padding,
    /// which are few and large) and checks each outcome.
    func flipEverywhere(compressed: Bool, flipsPerChunk: Int) throws -> [Region.Kind: (detected: Int, harmless: Int)] {
        let path = try writeCheckpoint(
            try standardFixture(), to: folder + "/reference-\(compressed).swq",
            options: .init(compressionLevel: compressed ? 1 : nil, chunkSize: 4096))
        let good = fileBytes(path)
        let reference = try CheckpointFile(path: path)
        let expected = decodeAll(reference).mapValues { try? $0.get() }
        #expect(expected.values.allSatisfy { $0 != nil })
        let regions = regions(of: reference, bytes: good)
        // Every kind of region exists, so none goes untested by accident.
        let kinds = Set(regions.map(\.kind))
        #expect(kinds == [.preamble, .metadata, .directory, .headerPadding, .chunk, .dataPadding], "\(kinds)")

        var state: UInt64 = compressed ? 0x5EED : 0xF11B
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        var outcomes: [Region.Kind: (detected: Int, harmless: Int)] = [:]
        let damagedPath = folder + "/flipped-\(compressed).swq"
        for region in regions {
            let flips = region.kind == .chunk ? flipsPerChunk : region.kind == .directory ? 80 : 24
            for _ in 0..<flips {
                let position = region.range.lowerBound + next(region.range.count)
                let bit = next(8)
                var bytes = good
                bytes[position] ^= UInt8(1) << bit
                writeBytes(bytes, to: damagedPath)
                let place = "\(region.kind.rawValue) byte \(position) bit \(bit)"

                let damaged: CheckpointFile
                do {
                    damaged = try CheckpointFile(path: damagedPath)
                } catch {
                    // Caught before any tensor is read: the header (or preamble) is named.
                    #expect(error is CheckpointError, "\(place): \(error)")
                    #expect(!"\(error)".contains("\n"), "\(place)")
                    #expect([.preamble, .metadata, .directory].contains(region.kind), "\(place): \(error)")
                    outcomes[region.kind, default: (0, 0)].detected += 1
                    continue
                }
                #expect(![.preamble, .metadata, .directory].contains(region.kind), "\(place): header damage went undetected")
                var detected = false
                for (name, outcome) in decodeAll(damaged) {
                    switch outcome {
                    case .success(let decoded):
                        // Not detected: then it must be exactly what it was.
                        // (Compared first, so a failure does not print megabytes of bytes.)
                        let unchanged = decoded == expected[name]
                        #expect(unchanged, "\(place): tensor '\(name)' changed silently")
                    case .failure(let error):
                        detected = true
                        #expect(error is CheckpointError, "\(place): \(error)")
                        #expect("\(error)".contains("'\(name)'"), "\(place): error does not name '\(name)': \(error)")
                        #expect(region.tensor == name, "\(place): reading '\(name)' failed but the flip hit \(region.tensor ?? "no tensor")")
                        #expect(throws: CheckpointError.self, "\(place): verify misses it") { try damaged.verify(tensorNamed: name) }
                    }
                }
                if region.kind == .chunk {
                    // Every chunk byte is under a checksum: a flip there is always detected.
                    #expect(detected, "\(place): chunk damage in '\(region.tensor ?? "")' went undetected")
                }
                if detected {
                    outcomes[region.kind, default: (0, 0)].detected += 1
                } else {
                    outcomes[region.kind, default: (0, 0)].harmless += 1
                }
            }
        }
        return outcomes
    }

    @Test func bitFlipsInACompressedCheckpointAreDetectedOrHarmless() throws {
        let outcomes = try flipEverywhere(compressed: true, flipsPerChunk: 3)
        // Checksums cover the preamble, the header and every chunk; only padding is unchecked.
        #expect(outcomes[.chunk]?.harmless == 0)
        #expect(outcomes[.directory]?.harmless == 0)
        #expect(outcomes[.dataPadding]?.detected == 0)
        #expect(outcomes.values.reduce(0) { $0 + $1.detected + $1.harmless } >= 300)
    }

    @Test func bitFlipsInARawCheckpointAreDetectedOrHarmless() throws {
        let outcomes = try flipEverywhere(compressed: false, flipsPerChunk: 4)
        #expect(outcomes[.chunk]?.harmless == 0)
        #expect(outcomes[.metadata]?.harmless == 0)
        #expect(outcomes.values.reduce(0) { $0 + $1.detected + $1.harmless } >= 150)
    }
}
