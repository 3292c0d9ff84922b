import Foundation
import Testing
import SwiftQuant
import SwiftQuantTestSupport

/// `convert --arithmetic reference`: fp16 and bf16 weights quantized as rotalabs-accel does in
/// PyTorch, checked against the mirror's `quantizeSymmetric(TypedFloatTensor…)`.
@Suite struct ArithmeticCommandTests {
    let folder = try! CLIRunner.makeTemporaryFolder()

    /// A safetensors file with one [rows, 64] weight in `dtype`, whose rows include a tiny one
    /// (max|w| < 3.8e-6: the fp16 scale underflows in the reference) and ones whose codes
    /// differ between Float32 and in-dtype arithmetic.
    func writeWeight(_ dtype: FloatEncoding, name: String) throws -> (path: String, tensor: TypedFloatTensor) {
        let rows = 24, columns = 64
        var values = pseudoRandomFloats(rows * columns, seed: 7, scale: 0.05)
        for column in 0..<columns { values[column] *= 1e-4 }             // row 0: tiny
        for column in 0..<columns { values[columns + column] *= 300 }     // row 1: large
        let tensor = try TypedFloatTensor(dtype: dtype, shape: [rows, columns], values: values)
        let bytes: [UInt8] = tensor.storage.flatMap { value -> [UInt8] in
            let bits: UInt16 = dtype == .float16 ? Float16(value).bitPattern : UInt16(value.bitPattern >> 16)
            return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
        }
        var fixture = SafeTensorsFixture()
        fixture.tensors.append(("layer.weight", dtype == .float16 ? "F16" : "BF16", [rows, columns], bytes))
        return (try fixture.write(to: folder + "/" + name), tensor)
    }

    @Test("--arithmetic reference stores the mirror's codes and scales, per channel", arguments: [FloatEncoding.float16, .bfloat16])
    func referenceMatchesTheMirror(dtype: FloatEncoding) throws {
        let (input, tensor) = try writeWeight(dtype, name: "model-\(dtype).safetensors")
        let output = folder + "/reference-\(dtype).swq"
        let result = try CLIRunner.run(["convert", input, "-o", output, "--arithmetic", "reference", "--json", "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")

        let checkpoint = try CheckpointFile(path: output)
        #expect(checkpoint.metadata["swiftquant.arithmetic"] == .string("reference"))
        let weight = try #require(try checkpoint.quantizedWeight(for: "layer.weight"))
        let mirror = try quantizeSymmetric(tensor, dimension: 1)
        #expect(Int8Tensor(weight).storage == mirror.quantized.storage)
        #expect(weight.scales == mirror.scale.storage)
        if dtype == .float16 {
            // The reference's quirk is kept: the tiny row's scale underflowed to 0, became 1.
            #expect(weight.scales[0] == 1)
        }

        // verify measures with the recorded arithmetic, so it reproduces convert's numbers.
        let converted = try parseJSONObject(result.stdout)
        let tensors = try #require(converted["tensors"] as? [[String: Any]])
        let verified = try CLIRunner.run(["verify", output, "--against", input, "--json"])
        #expect(verified.status == 0, "\(verified.stderr)")
        let verifiedTensors = try #require(try parseJSONObject(verified.stdout)["tensors"] as? [[String: Any]])
        #expect(tensors.first?["snr_db"] as? Double == verifiedTensors.first?["snr_db"] as? Double)
        #expect(tensors.first?["max_abs_error"] as? Double == verifiedTensors.first?["max_abs_error"] as? Double)
    }

    @Test("the default arithmetic is unchanged: Float32 on the widened weights", arguments: [FloatEncoding.float16, .bfloat16])
    func defaultIsFloat32(dtype: FloatEncoding) throws {
        let (input, tensor) = try writeWeight(dtype, name: "default-\(dtype).safetensors")
        let output = folder + "/default-\(dtype).swq"
        let result = try CLIRunner.run(["convert", input, "-o", output, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let checkpoint = try CheckpointFile(path: output)
        #expect(checkpoint.metadata["swiftquant.arithmetic"] == .string("float32"))
        let weight = try #require(try checkpoint.quantizedWeight(for: "layer.weight"))
        let widened = try quantizeSymmetric(tensor.float32, granularity: .perChannel)
        #expect(Int8Tensor(weight).storage == Int8Tensor(widened).storage)
        #expect(weight.scales == widened.scales)
        // And the two arithmetics do differ on these weights, so the test above tells them apart.
        let mirror = try quantizeSymmetric(tensor, dimension: 1)
        #expect(Int8Tensor(weight).storage != mirror.quantized.storage || weight.scales != mirror.scale.storage)
    }

    @Test("min_snr_db with --arithmetic reference measures and stores in the weight's dtype too", arguments: [FloatEncoding.float16, .bfloat16])
    func referenceUnderMinimumSNR(dtype: FloatEncoding) throws {
        let (input, tensor) = try writeWeight(dtype, name: "snr-\(dtype).safetensors")
        let rules = folder + "/snr-\(dtype).yaml"
        // A threshold every tensor passes: the tensor goes through the min_snr_db path and stays per channel.
        try "rules:\n  - match: \"layer.weight\"\n    min_snr_db: 1\n".write(toFile: rules, atomically: true, encoding: .utf8)
        let output = folder + "/snr-\(dtype).swq"
        let result = try CLIRunner.run(["convert", input, "-o", output, "--config", rules, "--arithmetic", "reference", "--json", "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let tensors = try #require(try parseJSONObject(result.stdout)["tensors"] as? [[String: Any]])
        #expect((tensors.first?["note"] as? String)?.contains("≥ 1 dB") == true)
        let weight = try #require(try CheckpointFile(path: output).quantizedWeight(for: "layer.weight"))
        let mirror = try quantizeSymmetric(tensor, dimension: 1)
        #expect(Int8Tensor(weight).storage == mirror.quantized.storage)
        #expect(weight.scales == mirror.scale.storage)
    }

    @Test("an unknown arithmetic is one error line")
    func unknownArithmetic() throws {
        let (input, _) = try writeWeight(.float16, name: "bad.safetensors")
        let result = try CLIRunner.run(["convert", input, "-o", folder + "/bad.swq", "--arithmetic", "float16"])
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("float16"))
    }
}
