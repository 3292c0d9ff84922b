import Foundation
import Testing
import SwiftQuant

/// Sharded checkpoints: a folder with an index, the index itself, a folder of shards.
@Suite("SafeTensors sharded checkpoints")
struct SafeTensorsShardedTests {
    /// Two shards and an index in a new folder: a, b in shard 1; c in shard 2.
    private func makeCheckpoint(indexMap: [(String, String)]? = nil, indexText: String? = nil) throws -> String {
        let folder = try SafeTensorsFixture.makeFolder()
        try SafeTensorsFixture.writeF32([("a", [1, 2]), ("b", [3])], metadata: [("format", "pt")],
                                        name: "model-00001-of-00002.safetensors", in: folder)
        try SafeTensorsFixture.writeF32([("c", [4, 5, 6])], metadata: [("format", "pt")],
                                        name: "model-00002-of-00002.safetensors", in: folder)
        let map = indexMap ?? [
            ("a", "model-00001-of-00002.safetensors"), ("c", "model-00002-of-00002.safetensors"),
            ("b", "model-00001-of-00002.safetensors"),
        ]
        let text = indexText ?? """
            {"metadata": {"total_size": 24, "note": "x"},
             "weight_map": {\(map.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", "))}}
            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/model.safetensors.index.json"))
        return folder
    }

    private func expectCheckpoint(_ checkpoint: ShardedSafeTensors) throws {
        #expect(checkpoint.formatName == "safetensors")
        #expect(checkpoint.shards.count == 2)
        #expect(checkpoint.tensors.map(\.name) == ["a", "b", "c"])
        #expect(try checkpoint.floats(for: "a") == [1, 2])
        #expect(try checkpoint.floats(for: "c") == [4, 5, 6])
        #expect(Array(try checkpoint.data(for: "b").bytes) == SafeTensorsFixture.littleEndian([Float(3).bitPattern]))
        #expect(checkpoint.info(for: "c")?.shape == [3])
        #expect(checkpoint.shard(for: "c")?.path.hasSuffix("model-00002-of-00002.safetensors") == true)
        checkpoint.releasePages(for: "c")
        #expect(throws: TensorSourceError.noSuchTensor(path: checkpoint.path, name: "d")) { try checkpoint.floats(for: "d") }
    }

    @Test("A folder with an index reads as one collection")
    func folderWithIndex() throws {
        let folder = try makeCheckpoint()
        let checkpoint = try ShardedSafeTensors(path: folder)
        try expectCheckpoint(checkpoint)
        #expect(checkpoint.indexPath == folder + "/model.safetensors.index.json")
        #expect(checkpoint.metadata == ["format": .string("pt"), "total_size": .uint(24), "note": .string("x")])
    }

    @Test("The index file path opens the same collection")
    func indexPath() throws {
        let folder = try makeCheckpoint()
        try expectCheckpoint(try ShardedSafeTensors(path: folder + "/model.safetensors.index.json"))
    }

    @Test("Files the index does not reference are ignored")
    func unreferencedFilesIgnored() throws {
        let folder = try makeCheckpoint()
        // Mistral-style repositories keep a consolidated copy beside the shards.
        try SafeTensorsFixture.writeF32([("a", [9])], name: "consolidated.safetensors", in: folder)
        try expectCheckpoint(try ShardedSafeTensors(path: folder))
    }

    @Test("A folder without an index reads every .safetensors file in name order")
    func folderWithoutIndex() throws {
        let folder = try makeCheckpoint()
        try FileManager.default.removeItem(atPath: folder + "/model.safetensors.index.json")
        let checkpoint = try ShardedSafeTensors(path: folder)
        #expect(checkpoint.indexPath == nil)
        try expectCheckpoint(checkpoint)
        #expect(checkpoint.metadata == ["format": .string("pt")])
    }

    @Test("An index under another *.safetensors.index.json name is found when it is the only one")
    func otherIndexName() throws {
        let folder = try makeCheckpoint()
        try FileManager.default.moveItem(atPath: folder + "/model.safetensors.index.json",
                                         toPath: folder + "/diffusion_pytorch_model.safetensors.index.json")
        let checkpoint = try ShardedSafeTensors(path: folder)
        #expect(checkpoint.indexPath == folder + "/diffusion_pytorch_model.safetensors.index.json")
    }

    @Test("A missing shard names the shard and a tensor it should hold")
    func missingShard() throws {
        let folder = try makeCheckpoint()
        try FileManager.default.removeItem(atPath: folder + "/model-00002-of-00002.safetensors")
        let index = folder + "/model.safetensors.index.json"
        #expect(throws: SafeTensorsError.missingShard(index: index, shard: "model-00002-of-00002.safetensors", tensor: "c")) {
            try ShardedSafeTensors(path: folder)
        }
    }

    @Test("A tensor mapped to a shard that lacks it names both")
    func tensorMissingFromShard() throws {
        let folder = try makeCheckpoint(indexMap: [
            ("a", "model-00001-of-00002.safetensors"), ("b", "model-00001-of-00002.safetensors"),
            ("c", "model-00002-of-00002.safetensors"), ("d", "model-00002-of-00002.safetensors"),
        ])
        let error = #expect(throws: SafeTensorsError.self) { try ShardedSafeTensors(path: folder) }
        #expect(error == .tensorMissingFromShard(index: folder + "/model.safetensors.index.json",
                                                 tensor: "d", shard: "model-00002-of-00002.safetensors"))
        #expect(error?.description.contains("'d'") == true)
        #expect(error?.description.contains("model-00002-of-00002.safetensors") == true)
    }

    @Test("A tensor mapped to the wrong shard names both")
    func tensorInWrongShard() throws {
        let folder = try makeCheckpoint(indexMap: [
            ("a", "model-00001-of-00002.safetensors"), ("b", "model-00002-of-00002.safetensors"),
            ("c", "model-00002-of-00002.safetensors"),
        ])
        #expect(throws: SafeTensorsError.tensorMissingFromShard(
            index: folder + "/model.safetensors.index.json", tensor: "b", shard: "model-00002-of-00002.safetensors")) {
            try ShardedSafeTensors(path: folder)
        }
    }

    @Test("A tensor in a shard but not in the index is an error")
    func tensorNotInIndex() throws {
        let folder = try makeCheckpoint(indexMap: [
            ("a", "model-00001-of-00002.safetensors"), ("c", "model-00002-of-00002.safetensors"),
        ])
        #expect(throws: SafeTensorsError.tensorNotInIndex(
            index: folder + "/model.safetensors.index.json", tensor: "b", shard: "model-00001-of-00002.safetensors")) {
            try ShardedSafeTensors(path: folder)
        }
    }

    @Test("The same tensor in two shards of an index-less folder is an error")
    func duplicateAcrossShards() throws {
        let folder = try SafeTensorsFixture.makeFolder()
        try SafeTensorsFixture.writeF32([("a", [1]), ("b", [2])], name: "one.safetensors", in: folder)
        try SafeTensorsFixture.writeF32([("b", [3])], name: "two.safetensors", in: folder)
        #expect(throws: SafeTensorsError.duplicateTensorAcrossShards(
            folder: folder, tensor: "b", firstShard: "one.safetensors", secondShard: "two.safetensors")) {
            try ShardedSafeTensors(path: folder)
        }
    }

    @Test("A folder with no safetensors files is an error")
    func emptyFolder() throws {
        let folder = try SafeTensorsFixture.makeFolder()
        try Data("{}".utf8).write(to: URL(fileURLWithPath: folder + "/config.json"))
        #expect(throws: SafeTensorsError.noSafeTensorsFiles(folder: folder)) { try ShardedSafeTensors(path: folder) }
    }

    @Test("A bad shard reports the shard's own validation error")
    func badShard() throws {
        let folder = try makeCheckpoint()
        let shard = folder + "/model-00002-of-00002.safetensors"
        try SafeTensorsFixture.write(SafeTensorsFixture.bytes(header: "{}", data: [1]), name: "model-00002-of-00002.safetensors", in: folder)
        #expect(throws: SafeTensorsError.incompleteBuffer(path: shard, tensorBytes: 0, dataBytes: 1)) {
            try ShardedSafeTensors(path: folder)
        }
    }

    @Test("Malformed indexes are rejected", arguments: [
        "", "{", "[]", "{\"metadata\": {}}", "{\"weight_map\": []}", "{\"weight_map\": {\"a\": 1}}",
        "{\"weight_map\": {\"a\": \"x.safetensors\", \"a\": \"x.safetensors\"}}",
        "{\"weight_map\": {}, \"weight_map\": {}}",
    ])
    func malformedIndex(text: String) throws {
        let folder = try makeCheckpoint(indexText: text)
        let error = #expect(throws: SafeTensorsError.self) { try ShardedSafeTensors(path: folder) }
        guard case .invalidIndex(let path, _, _) = error else {
            Issue.record("expected invalidIndex for \(text), got \(String(describing: error))")
            return
        }
        #expect(path == folder + "/model.safetensors.index.json")
        #expect(error?.description.contains("\n") == false)
    }

    @Test("Shard names that leave the folder are rejected", arguments: ["../x.safetensors", "/etc/passwd", "a/../../x", ""])
    func shardOutsideFolder(shard: String) throws {
        let folder = try makeCheckpoint(indexMap: [("a", shard)])
        #expect(throws: SafeTensorsError.shardOutsideFolder(index: folder + "/model.safetensors.index.json", shard: shard)) {
            try ShardedSafeTensors(path: folder)
        }
    }
}
