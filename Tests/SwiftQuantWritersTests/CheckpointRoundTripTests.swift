import Foundation
import Testing
import SwiftQuant

@Suite struct CheckpointRoundTripTests {
    /// `info(for:)` is a protocol requirement, so the checkpoint's own index answers through
    /// `any TensorSource`: every name gives its listed info, an unknown name nil.
    @Test func lookupsByNameThroughAnyTensorSource() throws {
        let fixture = try standardFixture()
        let path = try writeCheckpoint(fixture, to: temporaryFolder() + "/model.swq")
        let source: any TensorSource = try openTensorSource(at: path)
        #expect(source.tensors.map(\.name) == fixture.map(\.name))
        for tensor in source.tensors {
            #expect(source.info(for: tensor.name) == tensor)
        }
        #expect(source.info(for: "missing") == nil)
    }

    @Test(arguments: [Int32?.some(1), Int32?.some(3), nil])
    func everyTensorReadsBackExactly(level: Int32?) throws {
        let folder = temporaryFolder()
        let fixture = try standardFixture()
        let path = try writeCheckpoint(fixture, to: folder + "/model.swq", options: .init(compressionLevel: level, chunkSize: 4096))
        let checkpoint = try CheckpointFile(path: path)
        #expect(checkpoint.formatName == "swiftquant")
        #expect(checkpoint.tensors.map(\.name) == fixture.map(\.name))
        #expect(checkpoint.metadata["general.source"] == .string("fixture"))
        for tensor in fixture {
            let info = try #require(checkpoint.info(for: tensor.name))
            #expect(info.shape == tensor.shape)
            if let quantized = tensor.quantized {
                let stored = try #require(try checkpoint.quantizedWeight(for: tensor.name))
                #expect(stored == quantized)
                #expect(info.dtype == .i8)
                #expect(info.storage?.quantization == quantized.granularity)
                #expect(try checkpoint.floats(for: tensor.name) == dequantize(quantized).storage)
                let metrics = try #require(checkpoint.entries.first { $0.name == tensor.name }?.metrics)
                let expected = quantizationError(original: try FloatTensor(shape: tensor.shape, storage: tensor.weights), quantized: quantized)
                #expect(metrics == expected)
            } else {
                let data = try checkpoint.data(for: tensor.name)
                #expect(withExtendedLifetime(data) { Array(data.bytes) } == tensor.keptBytes)
                #expect(info.dtype == tensor.keptDType)
                #expect(info.storage?.quantization == nil)
                #expect(try checkpoint.quantizedWeight(for: tensor.name) == nil)
            }
            try checkpoint.verify(tensorNamed: tensor.name)
        }
        #expect(throws: TensorSourceError.noSuchTensor(path: path, name: "missing")) { try checkpoint.data(for: "missing") }
    }

    @Test func compressedTensorsUseTheExpectedCodecs() throws {
        let folder = temporaryFolder()
        let path = try writeCheckpoint(try standardFixture(), to: folder + "/model.swq")
        let checkpoint = try CheckpointFile(path: path)
        let codecs = Dictionary(uniqueKeysWithValues: checkpoint.entries.map { ($0.name, $0.values.codec) })
        #expect(codecs["layer.0.per_channel"] == .zstd)
        #expect(codecs["embed.weight"] == .zstdPlanes)
        #expect(checkpoint.entries.first { $0.name == "embed.weight" }?.values.planeWidth == 4)
        // A 4-byte per-tensor scale does not shrink: it falls back to raw.
        #expect(checkpoint.entries.first { $0.name == "layer.0.per_tensor" }?.scales?.codec == .raw)
        for entry in checkpoint.entries where entry.values.rawLength > 0 {
            #expect(entry.values.offset % checkpoint.alignment == 0)
        }
    }

    @Test func rawTensorsAreViewsIntoTheMap() throws {
        let folder = temporaryFolder()
        let path = try writeCheckpoint(try standardFixture(), to: folder + "/model.swq", options: .init(compressionLevel: nil))
        let checkpoint = try CheckpointFile(path: path)
        let data = try checkpoint.data(for: "layer.0.per_channel")
        #expect(data.owner is MappedFile)
        let map = try #require((data.owner as? MappedFile)?.bytes)
        let start = try #require(data.bytes.baseAddress)
        #expect(start >= map.baseAddress! && start + data.bytes.count <= map.baseAddress! + map.count)
        withExtendedLifetime(data) {}
        #expect(Int(bitPattern: start) % 64 == 0)
    }

    @Test func outputDoesNotDependOnTheThreadCount() throws {
        let folder = temporaryFolder()
        let fixture = try standardFixture()
        var outputs: [[UInt8]] = []
        for threads in [1, 2, 8] {
            let path = try Parallelism.withThreads(threads) {
                try writeCheckpoint(fixture, to: folder + "/t\(threads).swq", options: .init(chunkSize: 1024))
            }
            outputs.append(fileBytes(path))
        }
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0] == outputs[2])
    }

    @Test func bytePlanesSplitAndJoinAreInverses() {
        for width in [1, 2, 3, 4, 8] {
            for count in [0, 1, 15, 16, 17, 100, 1000] {
                let values = (0..<count * width).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 3) }
                var planes = [UInt8](repeating: 0, count: values.count)
                var joined = [UInt8](repeating: 0, count: values.count)
                values.withUnsafeBytes { input in
                    planes.withUnsafeMutableBytes { BytePlanes.split(input, width: width, into: $0) }
                }
                if count > 0 {
                    // Plane k starts with byte k of the first value.
                    for k in 0..<width { #expect(planes[k * count] == values[k]) }
                }
                planes.withUnsafeBytes { input in
                    joined.withUnsafeMutableBytes { BytePlanes.join(input, width: width, into: $0) }
                }
                #expect(joined == values, "width \(width), count \(count)")
            }
        }
    }

    @Test func metadataOfEveryTypeRoundTrips() throws {
        let folder = temporaryFolder()
        let metadata: [String: MetadataValue] = [
            "a.string": .string("héllo \"quoted\"\n"), "b.int": .int(-42), "c.uint": .uint(UInt64.max),
            "d.float": .float(0.125), "e.bool": .bool(true),
            "f.array": .array([.int(1), .string("x"), .array([.bool(false)])]), "g.empty": .array([]),
        ]
        let path = try writeCheckpoint([.keptFloats("t", [4])], to: folder + "/m.swq", metadata: metadata)
        #expect(try CheckpointFile(path: path).metadata == metadata)
    }
}
