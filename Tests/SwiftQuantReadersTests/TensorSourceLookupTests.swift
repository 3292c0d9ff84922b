import Foundation
import Testing
@testable import SwiftQuantCore
@testable import SwiftQuantSafeTensors
@testable import SwiftQuantGGUF
@testable import SwiftQuantConversion

/// `info(for:)` is a protocol requirement: lookups through `any TensorSource` reach each
/// reader's own dictionary, not the linear scan of the protocol extension.
@Suite("TensorSource lookups by name")
struct TensorSourceLookupTests {
    /// A source whose lookup disagrees with its `tensors` list on purpose, so the answer
    /// shows which implementation ran.
    private struct IndexedSource: TensorSource {
        var path = "indexed"
        var formatName = "safetensors"
        var tensors = [TensorInfo(name: "w", dtype: .f32, shape: [2], byteCount: 8)]
        var metadata: [String: MetadataValue] = [:]
        let index = ["w": TensorInfo(name: "w", dtype: .f16, shape: [4], byteCount: 8)]

        func info(for name: String) -> TensorInfo? { index[name] }
        func data(for name: String) throws -> TensorData { throw TensorSourceError.noSuchTensor(path: path, name: name) }
        func floats(for name: String) throws -> [Float] { throw TensorSourceError.noSuchTensor(path: path, name: name) }
    }

    private func lookUp(_ source: any TensorSource, _ name: String) -> TensorInfo? {
        source.info(for: name)
    }

    /// Every listed tensor is found with exactly its listed info; an unknown name is nil.
    private func expectLookups(_ source: any TensorSource, expectedNames: [String]) {
        #expect(source.tensors.map(\.name) == expectedNames)
        for tensor in source.tensors {
            #expect(lookUp(source, tensor.name) == tensor)
        }
        #expect(lookUp(source, "missing") == nil)
        #expect(lookUp(source, "") == nil)
    }

    @Test("Through any TensorSource, the conforming type's lookup runs")
    func requirementDispatch() {
        let source: any TensorSource = IndexedSource()
        #expect(lookUp(source, "w")?.dtype == .f16)
        #expect(lookUp(source, "w")?.shape == [4])
    }

    @Test("A single safetensors file answers every name")
    func safetensors() throws {
        let path = try SafeTensorsFixture.writeF32([("a", [1, 2]), ("b", [3]), ("c", [4, 5, 6])])
        expectLookups(try openTensorSource(at: path), expectedNames: ["a", "b", "c"])
    }

    @Test("A sharded folder answers every name across shards")
    func sharded() throws {
        let folder = try SafeTensorsFixture.makeFolder()
        try SafeTensorsFixture.writeF32([("a", [1, 2]), ("b", [3])], name: "model-00001-of-00002.safetensors", in: folder)
        try SafeTensorsFixture.writeF32([("c", [4, 5, 6])], name: "model-00002-of-00002.safetensors", in: folder)
        let index = """
            {"metadata": {"total_size": 24}, "weight_map": {"a": "model-00001-of-00002.safetensors",
             "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}
            """
        try Data(index.utf8).write(to: URL(fileURLWithPath: folder + "/model.safetensors.index.json"))
        expectLookups(try openTensorSource(at: folder), expectedNames: ["a", "b", "c"])
    }

    @Test("A GGUF file answers every name")
    func gguf() throws {
        let path = try temporaryFile(GGUFFixture.valid.bytes)
        expectLookups(try openTensorSource(at: path), expectedNames: ["a", "b"])
    }
}
