import Foundation
import Testing
import SwiftQuant

/// `convert --format compressed-tensors|mlx` and `export --layout compressed-tensors|mlx`:
/// the folders hold the same codes and scales as a SwiftQuant checkpoint of the same model, in
/// each runtime's layout (the runtimes themselves load them in Tests/Interop/check_model_folders.py).
@Suite struct ModelFolderCommandTests {
    let folder = try! CLIRunner.makeTemporaryFolder()

    /// A model folder: the llama fixture, a config.json and a tokenizer file to be copied.
    func modelFolder() throws -> String {
        let model = folder + "/model"
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        try SafeTensorsFixture.llama().write(to: model + "/model.safetensors")
        try Data(#"{"model_type": "llama", "hidden_size": 128, "name": "a/b"}"#.utf8).write(to: URL(fileURLWithPath: model + "/config.json"))
        try Data(#"{"version": "1.0", "model": {}}"#.utf8).write(to: URL(fileURLWithPath: model + "/tokenizer.json"))
        return model
    }

    func checkpoint(of model: String, _ extra: [String] = []) throws -> CheckpointFile {
        let path = folder + "/model-\(extra.joined(separator: "_")).swq"
        let result = try CLIRunner.run(["convert", model, "-o", path, "--quiet", "--force"] + extra)
        try #require(result.status == 0, "\(result)")
        return try CheckpointFile(path: path)
    }

    func config(_ output: String) throws -> [String: Any] {
        let data = try #require(contents(output + "/config.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func compressedTensorsFolderIsShardedAndHoldsTheCheckpointsCodes() throws {
        let model = try modelFolder()
        let output = folder + "/ct"
        let result = try CLIRunner.run([
            "convert", model, "-o", output, "--format", "compressed-tensors", "--max-shard-size", "100kB", "--quiet",
        ])
        try #require(result.status == 0, "\(result)")
        let names = try FileManager.default.contentsOfDirectory(atPath: output).sorted()
        let shards = names.filter { $0.hasSuffix(".safetensors") }
        #expect(shards.count > 1 && shards.allSatisfy { $0.hasSuffix("-of-0000\(shards.count).safetensors") }, "\(names)")
        #expect(names.contains("model.safetensors.index.json") && names.contains("tokenizer.json"), "\(names)")
        #expect(contents(output + "/tokenizer.json") == contents(model + "/tokenizer.json"))
        // Nothing but the output is left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains("swiftquant-tmp") }.isEmpty)

        let quantization = try #require(try config(output)["quantization_config"] as? [String: Any])
        #expect(quantization["quant_method"] as? String == "compressed-tensors")
        #expect(quantization["quantization_status"] as? String == "compressed")
        let groups = try #require(quantization["config_groups"] as? [String: [String: Any]])
        #expect(groups.count == 1 && groups["group_0"]?["targets"] as? [String] == ["Linear"])
        #expect(groups["group_0"]?["format"] as? String == "naive-quantized")
        let weights = try #require(groups["group_0"]?["weights"] as? [String: Any])
        #expect(weights["strategy"] as? String == "channel" && weights["num_bits"] as? Int == 8)
        #expect(weights["symmetric"] as? Bool == true && weights["dynamic"] as? Bool == false)
        // Every 2-D weight kept in float is ignored, or compressed-tensors would treat it as quantized.
        #expect(Set(quantization["ignore"] as? [String] ?? []) == ["model.embed_tokens", "lm_head"])
        #expect(try config(output)["name"] as? String == "a/b")

        let stored = try ShardedSafeTensors(path: output)
        #expect(stored.shards.allSatisfy { $0.metadata["format"] == .string("pt") })
        let reference = try checkpoint(of: model)
        for name in SafeTensorsFixture.llama().quantizableNames {
            let ours = try #require(try stored.quantizedWeight(for: name), "\(name)")
            #expect(ours == (try reference.quantizedWeight(for: name)), "\(name)")
        }
    }

    @Test func mixedGranularitiesGetOneGroupEachWithExplicitTargets() throws {
        let model = try modelFolder()
        let rules = folder + "/rules.yaml"
        try Data("rules:\n  - match: \"*.mlp.*\"\n    granularity: per-group\n    group_size: 64\n".utf8)
            .write(to: URL(fileURLWithPath: rules))
        let output = folder + "/ct-mixed"
        let result = try CLIRunner.run(["convert", model, "-o", output, "--format", "compressed-tensors", "--config", rules, "--quiet"])
        try #require(result.status == 0, "\(result)")
        let quantization = try #require(try config(output)["quantization_config"] as? [String: Any])
        let groups = try #require(quantization["config_groups"] as? [String: [String: Any]])
        #expect(groups.count == 2)
        var targeted: [String: String] = [:]
        for group in groups.values {
            let strategy = (group["weights"] as? [String: Any])?["strategy"] as? String ?? "?"
            for target in group["targets"] as? [String] ?? [] { targeted[target] = strategy }
        }
        #expect(targeted["model.layers.0.mlp.up_proj"] == "group" && targeted["model.layers.1.self_attn.q_proj"] == "channel", "\(targeted)")
    }

    @Test func mlxFolderStoresTheCodesPlus128AndBiasesOfMinus128Scales() throws {
        let model = try modelFolder()
        let output = folder + "/mlx"
        let result = try CLIRunner.run([
            "convert", model, "-o", output, "--format", "mlx", "--granularity", "per-group", "--group-size", "32", "--quiet",
        ])
        try #require(result.status == 0, "\(result)")
        #expect(try config(output)["quantization"] as? [String: Int] == ["group_size": 32, "bits": 8])
        let stored = try SafeTensorsFile(path: output + "/model.safetensors")
        #expect(stored.metadata["format"] == .string("mlx"))
        let reference = try checkpoint(of: model, ["--granularity", "per-group", "--group-size", "32"])
        for name in SafeTensorsFixture.llama().quantizableNames {
            let module = String(name.dropLast(".weight".count))
            let weight = try #require(try reference.quantizedWeight(for: name))
            let packed = try #require(stored.info(for: module + ".weight"))
            #expect(packed.dtype == .u32 && packed.shape == [weight.shape[0], weight.shape[1] / 4])
            let bytes = try stored.data(for: module + ".weight")
            let unsigned = withExtendedLifetime(bytes) { Array(bytes.bytes) }
            #expect(unsigned.map { Int($0) - 128 } == weight.int8Codes.map { Int($0) }, "\(name)")
            let scales = try stored.floats(for: module + ".scales"), biases = try stored.floats(for: module + ".biases")
            #expect(scales == weight.scales)
            #expect(biases == scales.map { -128 * $0 })
            #expect(stored.info(for: module + ".scales")?.shape == [weight.shape[0], weight.shape[1] / 32])
        }
        // Kept tensors stay float, with no scales: mlx-lm leaves those layers unquantized.
        #expect(stored.info(for: "lm_head.weight")?.dtype == .f32 && stored.info(for: "lm_head.scales") == nil)
    }

    @Test func mlxFromAPerChannelCheckpointIsRefusedInOneLine() throws {
        let model = try modelFolder()
        _ = try checkpoint(of: model)
        let output = folder + "/mlx-refused"
        let result = try CLIRunner.run(["export", folder + "/model-.swq", "-o", output, "--layout", "mlx", "--model-dir", model])
        #expect(result.status == 1 && result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("MLX stores 8-bit weights only in groups of 32, 64 or 128"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains("swiftquant-tmp") }.isEmpty)
    }

    @Test func existingFolderNeedsForceAndIsReplacedWhole() throws {
        let model = try modelFolder()
        let output = folder + "/existing"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try Data("old".utf8).write(to: URL(fileURLWithPath: output + "/stale.txt"))
        let refused = try CLIRunner.run(["convert", model, "-o", output, "--format", "compressed-tensors", "--quiet"])
        #expect(refused.status == 1 && refused.stderr.contains("already exists") && refused.stderr.contains("--force"), "\(refused)")
        #expect(FileManager.default.fileExists(atPath: output + "/stale.txt"))
        let forced = try CLIRunner.run(["convert", model, "-o", output, "--format", "compressed-tensors", "--quiet", "--force"])
        #expect(forced.status == 0, "\(forced)")
        #expect(!FileManager.default.fileExists(atPath: output + "/stale.txt"))
        #expect(FileManager.default.fileExists(atPath: output + "/model.safetensors"))
        let intoInput = try CLIRunner.run(["convert", model, "-o", model, "--format", "mlx", "--force", "--quiet"])
        #expect(intoInput.status == 1 && intoInput.stderr.contains("holds the input"), "\(intoInput)")
    }

    @Test func aQuantizedEmbeddingIsRefusedForCompressedTensorsButNotForMLX() throws {
        let model = try modelFolder()
        let rules = folder + "/embed.yaml"
        try Data("rules:\n  - match: \"model.embed_tokens.weight\"\n    action: quantize\n    granularity: per-group\n    group_size: 64\n".utf8)
            .write(to: URL(fileURLWithPath: rules))
        let refused = try CLIRunner.run(["convert", model, "-o", folder + "/ct-embed", "--format", "compressed-tensors", "--config", rules, "--quiet"])
        #expect(refused.status == 1 && refused.stderr.contains("model.embed_tokens.weight") && refused.stderr.contains("only Linear weights"), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/ct-embed"))
        let mlx = try CLIRunner.run(["convert", model, "-o", folder + "/mlx-embed", "--format", "mlx", "--config", rules, "--quiet"])
        #expect(mlx.status == 0, "\(mlx)")
        #expect(try SafeTensorsFile(path: folder + "/mlx-embed/model.safetensors").info(for: "model.embed_tokens.scales") != nil)
    }

    @Test func aFolderWithoutConfigIsRefusedAndLeavesNothing() throws {
        let bare = folder + "/bare"
        try FileManager.default.createDirectory(atPath: bare, withIntermediateDirectories: true)
        try SafeTensorsFixture.llama().write(to: bare + "/model.safetensors")
        let result = try CLIRunner.run(["convert", bare, "-o", folder + "/no-config", "--format", "compressed-tensors", "--quiet"])
        #expect(result.status == 1 && result.stderr.contains("has no config.json"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/no-config"))
    }

    @Test func compressedTensorsFolderAsInput() throws {
        let model = try modelFolder()
        _ = try checkpoint(of: model)
        let output = folder + "/ct-input"
        let export = try CLIRunner.run(["export", folder + "/model-.swq", "-o", output, "--layout", "compressed-tensors", "--model-dir", model, "--quiet"])
        try #require(export.status == 0, "\(export)")
        // verify --against reads the folder's int8 weights dequantized: the checkpoint's own values.
        let verify = try CLIRunner.run(["verify", folder + "/model-.swq", "--against", output, "--json"])
        #expect(verify.status == 0, "\(verify)")
        let report = try parseJSONObject(verify.stdout)
        let tensors = try #require(report["tensors"] as? [[String: Any]])
        for tensor in tensors where SafeTensorsFixture.llama().quantizableNames.contains(tensor["name"] as? String ?? "") {
            #expect(tensor["max_abs_error"] as? Double == 0, "\(tensor)")
        }
        // Converting it again would quantize its scales: refused, naming a quantized tensor.
        let convert = try CLIRunner.run(["convert", output, "-o", folder + "/again.swq", "--quiet"])
        #expect(convert.status == 1 && convert.stderr.contains("already quantized"), "\(convert)")
        let inspect = try CLIRunner.run(["inspect", output])
        #expect(inspect.status == 0 && inspect.stdout.contains("I8"), "\(inspect)")
    }
}
