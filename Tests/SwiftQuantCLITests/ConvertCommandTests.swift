import Foundation
import Testing
import SwiftQuant

/// A safetensors file built in code: tensors in order, F32 unless stated.
struct SafeTensorsFixture {
    var tensors: [(name: String, dtype: String, shape: [Int], bytes: [UInt8])] = []

    mutating func addFloats(_ name: String, _ shape: [Int], seed: UInt64, scale: Float = 0.05, edit: (inout [Float]) -> Void = { _ in }) {
        var values = pseudoRandomFloats(shape.reduce(1, *), seed: seed, scale: scale)
        edit(&values)
        tensors.append((name, "F32", shape, values.withUnsafeBytes { Array($0) }))
    }

    /// A small llama-shaped model: embeddings, `layers` blocks, a norm and a head.
    static func llama(layers: Int = 2, width: Int = 128, seed: UInt64 = 1) -> SafeTensorsFixture {
        var fixture = SafeTensorsFixture()
        fixture.addFloats("model.embed_tokens.weight", [500, width], seed: seed)
        for layer in 0..<layers {
            let prefix = "model.layers.\(layer)."
            fixture.addFloats(prefix + "input_layernorm.weight", [width], seed: seed + 10, scale: 1)
            fixture.addFloats(prefix + "self_attn.q_proj.weight", [width, width], seed: seed + UInt64(layer) * 7 + 1)
            fixture.addFloats(prefix + "self_attn.o_proj.weight", [width, width], seed: seed + UInt64(layer) * 7 + 2)
            fixture.addFloats(prefix + "mlp.up_proj.weight", [width * 3, width], seed: seed + UInt64(layer) * 7 + 3)
            fixture.addFloats(prefix + "mlp.down_proj.weight", [width, width * 3], seed: seed + UInt64(layer) * 7 + 4)
        }
        fixture.addFloats("model.norm.weight", [width], seed: seed + 99, scale: 1)
        fixture.addFloats("lm_head.weight", [500, width], seed: seed + 98)
        return fixture
    }

    var quantizableNames: [String] {
        tensors.filter { $0.shape.count >= 2 && !$0.name.contains("embed") && !$0.name.contains("lm_head") }.map(\.name)
    }

    @discardableResult
    func write(to path: String) throws -> String {
        var header = "{"
        var offset = 0
        for (index, tensor) in tensors.enumerated() {
            if index > 0 { header += "," }
            header += "\"\(tensor.name)\":{\"dtype\":\"\(tensor.dtype)\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + tensor.bytes.count)]}"
            offset += tensor.bytes.count
        }
        header += "}"
        while header.utf8.count % 8 != 0 { header += " " }
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
        bytes += header.utf8
        for tensor in tensors { bytes += tensor.bytes }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

/// A copy of a tensor's bytes. `TensorData.bytes` is a view its owner keeps alive, so the copy
/// is taken while `data` (an argument, alive for the call) still holds it.
func bytes(_ data: TensorData) -> [UInt8] {
    withExtendedLifetime(data) { Array(data.bytes) }
}

func parseJSONObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

/// Files in `folder` whose name marks them as a swiftquant temporary file.
func temporaryFiles(in folder: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.contains(".swiftquant-tmp-") }
}

@Suite struct ConvertCommandTests {
    let folder = try! CLIRunner.makeTemporaryFolder()

    @Test func convertsAndVerifiesASmallModel() throws {
        let fixture = SafeTensorsFixture.llama()
        let input = try fixture.write(to: folder + "/model.safetensors")
        let output = folder + "/model.swq"
        let result = try CLIRunner.run(["convert", input, "-o", output, "--json"])
        #expect(result.status == 0, "\(result)")
        let summary = try parseJSONObject(result.stdout)
        #expect(summary["tensors_quantized"] as? Int == fixture.quantizableNames.count)
        #expect(summary["tensors_kept"] as? Int == fixture.tensors.count - fixture.quantizableNames.count)
        #expect((summary["worst_snr"] as? [Any])?.count == 5)
        #expect((summary["output_bytes"] as? Int) == contents(output)?.count)

        let checkpoint = try CheckpointFile(path: output)
        #expect(checkpoint.tensors.map(\.name) == fixture.tensors.map(\.name))
        #expect(Set(checkpoint.entries.filter { $0.quantization != nil }.map(\.name)) == Set(fixture.quantizableNames))
        #expect(checkpoint.metadata["general.source"] == .string("model.safetensors"))
        #expect(checkpoint.metadata["general.source_format"] == .string("safetensors"))
        // The kept tensors are the source's bytes.
        #expect(bytes(try checkpoint.data(for: "lm_head.weight")) == fixture.tensors.last!.bytes)

        let verify = try CLIRunner.run(["verify", output])
        #expect(verify.status == 0, "\(verify)")
        #expect(temporaryFiles(in: folder).isEmpty)
    }

    @Test func textSummaryNamesTheWorstTensors() throws {
        let input = try SafeTensorsFixture.llama().write(to: folder + "/model.safetensors")
        let result = try CLIRunner.run(["convert", input, "-o", folder + "/out.swq"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("quantized"))
        #expect(result.stdout.contains("lowest SNR"))
        #expect(result.stdout.contains("dB"))
        // stderr is not a terminal here: no progress bar escapes.
        #expect(!result.stderr.contains("\r"))
    }

    @Test func outputIsTheSameForAnyThreadCount() throws {
        let input = try SafeTensorsFixture.llama(layers: 2, width: 256).write(to: folder + "/model.safetensors")
        var outputs: [Data] = []
        for threads in [1, 2, 8] {
            let output = folder + "/t\(threads).swq"
            let result = try CLIRunner.run(["convert", input, "-o", output, "--threads", "\(threads)", "--quiet"])
            #expect(result.status == 0, "\(result)")
            outputs.append(try #require(contents(output)))
        }
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0] == outputs[2])
    }

    @Test func existingOutputNeedsForceAndTheInputIsNeverOverwritten() throws {
        let input = try SafeTensorsFixture.llama(layers: 1).write(to: folder + "/model.safetensors")
        let original = contents(input)
        let output = folder + "/out.swq"
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: output))
        let refused = try CLIRunner.run(["convert", input, "-o", output])
        #expect(refused.status == 1)
        #expect(refused.stderrLines.count == 1 && refused.stderr.contains("--force"), "\(refused)")
        #expect(contents(output) == Data("keep me".utf8))

        let forced = try CLIRunner.run(["convert", input, "-o", output, "--force", "--quiet"])
        #expect(forced.status == 0, "\(forced)")
        #expect(try CheckpointFile(path: output).tensors.count == 8)

        for target in [input, folder + "/./model.safetensors"] {
            let overwrite = try CLIRunner.run(["convert", input, "-o", target, "--force"])
            #expect(overwrite.status == 1)
            #expect(overwrite.stderr.contains("is the input"), "\(overwrite)")
        }
        #expect(contents(input) == original)
        #expect(temporaryFiles(in: folder).isEmpty)
    }

    @Test func nonFiniteWeightIsAOneLineErrorNamingTheTensor() throws {
        var fixture = SafeTensorsFixture.llama(layers: 1)
        fixture.addFloats("model.layers.0.mlp.bad.weight", [64, 64], seed: 5) { $0[100] = .nan }
        let input = try fixture.write(to: folder + "/nan.safetensors")
        let output = folder + "/nan.swq"
        let result = try CLIRunner.run(["convert", input, "-o", output])
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("model.layers.0.mlp.bad.weight"))
        #expect(result.stderr.contains("index 100"))
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(temporaryFiles(in: folder).isEmpty)
    }

    @Test(arguments: [
        (["--compression-level", "0"], "compression-level"),
        (["--compression-level", "3", "--no-compression"], "contradict"),
        (["--threads", "0"], "threads"),
        (["--format", "zip"], "zip"),
        (["--granularity", "per-row"], "per-row"),
    ])
    func badOptionsAreOneLineErrors(extra: [String], fragment: String) throws {
        let input = try SafeTensorsFixture.llama(layers: 1).write(to: folder + "/model.safetensors")
        let result = try CLIRunner.run(["convert", input, "-o", folder + "/x.swq"] + extra)
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1 && result.stderr.contains(fragment), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/x.swq"))
    }

    @Test func unreadableInputsAreOneLineErrors() throws {
        let missing = try CLIRunner.run(["convert", folder + "/nope.safetensors", "-o", folder + "/x.swq"])
        #expect(missing.status == 1 && missing.stderrLines.count == 1, "\(missing)")
        try Data("not a model".utf8).write(to: URL(fileURLWithPath: folder + "/junk.bin"))
        let junk = try CLIRunner.run(["convert", folder + "/junk.bin", "-o", folder + "/x.swq"])
        #expect(junk.status == 1 && junk.stderrLines.count == 1, "\(junk)")
        let noFolder = try CLIRunner.run(["convert", try SafeTensorsFixture.llama(layers: 1).write(to: folder + "/m.safetensors"), "-o", folder + "/no/such/dir/x.swq"])
        #expect(noFolder.status == 1 && noFolder.stderrLines.count == 1, "\(noFolder)")
    }

    @Test func noCompressionStoresEverythingRaw() throws {
        let input = try SafeTensorsFixture.llama(layers: 1).write(to: folder + "/model.safetensors")
        let output = folder + "/raw.swq"
        let result = try CLIRunner.run(["convert", input, "-o", output, "--no-compression", "--quiet"])
        #expect(result.status == 0, "\(result)")
        let checkpoint = try CheckpointFile(path: output)
        #expect(checkpoint.entries.allSatisfy { $0.values.codec == .raw && ($0.scales?.codec ?? .raw) == .raw })
        #expect(checkpoint.metadata["swiftquant.compression"] == .string("none"))
    }

    @Test func safetensorsOutputFromTheExtension() throws {
        let fixture = SafeTensorsFixture.llama(layers: 1)
        let input = try fixture.write(to: folder + "/model.safetensors")
        let output = folder + "/int8.safetensors"
        let result = try CLIRunner.run(["convert", input, "-o", output, "--quiet", "--granularity", "per-group", "--group-size", "32"])
        #expect(result.status == 0, "\(result)")
        let written = try openTensorSource(at: output)
        #expect(written.formatName == "safetensors")
        for name in fixture.quantizableNames {
            let info = try #require(written.info(for: name))
            #expect(info.dtype == .i8)
            let scale = try #require(written.info(for: name + "_scale"))
            #expect(scale.shape == [info.shape[0], info.shape[1] / 32])
        }
    }

    @Test func miniLMConvertsWithTheReferenceSNR() throws {
        let model = try TestModels.miniLMSafeTensors
        try #require(FileManager.default.fileExists(atPath: model), "MiniLM is expected at \(model)")
        let output = folder + "/minilm.swq"
        let result = try CLIRunner.run(["convert", model, "-o", output, "--json"])
        #expect(result.status == 0, "\(result)")
        let summary = try parseJSONObject(result.stdout)
        let worst = try #require((summary["worst_snr"] as? [[String: Any]])?.first)
        // REFERENCE.md: per-channel weight SNR minimum 33.5 dB at encoder.layer.0.output.dense.
        #expect(worst["name"] as? String == "encoder.layer.0.output.dense.weight")
        #expect(abs((worst["snr_db"] as? Double ?? 0) - 33.5) < 0.1)
        let source = try openTensorSource(at: model)
        let checkpoint = try CheckpointFile(path: output)
        #expect(checkpoint.tensors.map(\.name) == source.tensors.map(\.name))
        // Kept fp32 tensors shrink with byte planes; the file is smaller than the source.
        #expect((summary["output_bytes"] as? Int ?? .max) < (summary["input_bytes"] as? Int ?? 0) * 6 / 10)
    }
}

@Suite struct ConvertShardedInputTests {
    let folder = try! CLIRunner.makeTemporaryFolder()

    /// The llama fixture split in two shards with an index, as huggingface_hub writes them.
    func shardedModel() throws -> (folder: String, fixture: SafeTensorsFixture) {
        let fixture = SafeTensorsFixture.llama()
        let model = folder + "/model"
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        let half = fixture.tensors.count / 2
        var first = SafeTensorsFixture(), second = SafeTensorsFixture()
        first.tensors = Array(fixture.tensors[..<half])
        second.tensors = Array(fixture.tensors[half...])
        try first.write(to: model + "/model-00001-of-00002.safetensors")
        try second.write(to: model + "/model-00002-of-00002.safetensors")
        var map: [String] = []
        for (index, tensor) in fixture.tensors.enumerated() {
            map.append("\"\(tensor.name)\": \"model-0000\(index < half ? 1 : 2)-of-00002.safetensors\"")
        }
        let total = fixture.tensors.reduce(0) { $0 + $1.bytes.count }
        let index = "{\"metadata\": {\"total_size\": \(total)}, \"weight_map\": {\(map.joined(separator: ", "))}}"
        try Data(index.utf8).write(to: URL(fileURLWithPath: model + "/model.safetensors.index.json"))
        return (model, fixture)
    }

    @Test func aShardedFolderConvertsLikeOneFile() throws {
        let (model, fixture) = try shardedModel()
        let single = try fixture.write(to: folder + "/single.safetensors")
        let fromShards = folder + "/shards.swq", fromSingle = folder + "/single.swq"
        let sharded = try CLIRunner.run(["convert", model, "-o", fromShards, "--quiet"])
        #expect(sharded.status == 0, "\(sharded)")
        #expect(try CLIRunner.run(["convert", single, "-o", fromSingle, "--quiet"]).status == 0)
        let a = try CheckpointFile(path: fromShards), b = try CheckpointFile(path: fromSingle)
        #expect(Set(a.tensors.map(\.name)) == Set(b.tensors.map(\.name)))
        for entry in b.entries where entry.quantization != nil {
            #expect(try a.quantizedWeight(for: entry.name) == b.quantizedWeight(for: entry.name))
        }
        let verify = try CLIRunner.run(["verify", fromShards, "--against", model])
        #expect(verify.status == 0, "\(verify)")
    }

    @Test func aShardOfTheInputIsNeverOverwritten() throws {
        let (model, _) = try shardedModel()
        let shard = model + "/model-00001-of-00002.safetensors"
        let original = contents(shard)
        let result = try CLIRunner.run(["convert", model, "-o", shard, "--force"])
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1 && result.stderr.contains("is the input"), "\(result)")
        #expect(contents(shard) == original)
        #expect(temporaryFiles(in: model).isEmpty)
    }
}
