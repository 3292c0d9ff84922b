import Foundation
import Testing
import SwiftQuant

@Suite struct VerifyCommandTests {
    let folder = try! CLIRunner.makeTemporaryFolder()

    func converted(_ extra: [String] = []) throws -> (input: String, checkpoint: String) {
        let input = try SafeTensorsFixture.llama().write(to: folder + "/model.safetensors")
        let output = folder + "/model.swq"
        let result = try CLIRunner.run(["convert", input, "-o", output, "--quiet", "--force"] + extra)
        #expect(result.status == 0, "\(result)")
        return (input, output)
    }

    @Test func againstTheSourceReportsEveryQuantizedTensorsError() throws {
        let (input, checkpoint) = try converted()
        let result = try CLIRunner.run(["verify", checkpoint, "--against", input, "--json"])
        #expect(result.status == 0, "\(result)")
        let report = try parseJSONObject(result.stdout)
        #expect(report["ok"] as? Bool == true)
        let tensors = try #require(report["tensors"] as? [[String: Any]])
        let quantizable = Set(SafeTensorsFixture.llama().quantizableNames)
        #expect(tensors.count == SafeTensorsFixture.llama().tensors.count)
        for tensor in tensors {
            let name = tensor["name"] as? String ?? ""
            if quantizable.contains(name) {
                // Bell-shaped weights at per-channel INT8: well above 30 dB, errors below half a step.
                #expect((tensor["snr_db"] as? Double ?? 0) > 30, "\(name)")
                #expect((tensor["max_abs_error"] as? Double ?? 1) < 0.05 / 127, "\(name)")
            } else {
                #expect(tensor["snr_db"] is NSNull, "\(name)")
            }
        }
        // The measured error equals what convert stored.
        let stored = try CheckpointFile(path: checkpoint)
        for tensor in tensors {
            guard let metrics = stored.entries.first(where: { $0.name == tensor["name"] as? String })?.metrics else { continue }
            #expect(Float(tensor["snr_db"] as? Double ?? 0) == metrics.snrDecibels)
        }
        let text = try CLIRunner.run(["verify", checkpoint, "--against", input])
        #expect(text.status == 0 && text.stdout.contains("SNR dB") && text.stdout.contains("all checksums OK"), "\(text)")
    }

    @Test func damageExitsOneNamingTheFirstBadTensor() throws {
        let (_, checkpoint) = try converted()
        let file = try CheckpointFile(path: checkpoint)
        let target = try #require(file.entries.first { $0.quantization != nil })
        var bytes = try #require(contents(checkpoint))
        bytes[target.values.offset + target.values.storedLength / 2] ^= 0x55
        let damaged = folder + "/damaged.swq"
        try bytes.write(to: URL(fileURLWithPath: damaged))
        let result = try CLIRunner.run(["verify", damaged])
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("'\(target.name)'"))
        #expect(result.stderr.contains("checksum mismatch"))
    }

    @Test func notACheckpointIsAOneLineError() throws {
        let input = try SafeTensorsFixture.llama(layers: 1).write(to: folder + "/model.safetensors")
        for path in [input, folder + "/missing.swq"] {
            let result = try CLIRunner.run(["verify", path])
            #expect(result.status == 1 && result.stderrLines.count == 1, "\(result)")
        }
        var bytes = try #require(contents(try converted().checkpoint))
        bytes.removeLast(100)
        try bytes.write(to: URL(fileURLWithPath: folder + "/truncated.swq"))
        let truncated = try CLIRunner.run(["verify", folder + "/truncated.swq"])
        #expect(truncated.status == 1 && truncated.stderr.contains("truncated"), "\(truncated)")
    }
}

@Suite struct ExportCommandTests {
    let folder = try! CLIRunner.makeTemporaryFolder()

    @Test(arguments: [("per-tensor", 0), ("per-channel", 0), ("per-group", 64)])
    func int8LayoutHasOneScaleTensorPerQuantizedTensor(granularity: String, group: Int) throws {
        let fixture = SafeTensorsFixture.llama()
        let input = try fixture.write(to: folder + "/model.safetensors")
        let checkpoint = folder + "/\(granularity).swq"
        var convert = ["convert", input, "-o", checkpoint, "--quiet", "--granularity", granularity]
        if group > 0 { convert += ["--group-size", "\(group)"] }
        #expect(try CLIRunner.run(convert).status == 0)
        let output = folder + "/\(granularity).safetensors"
        let result = try CLIRunner.run(["export", checkpoint, "-o", output, "--layout", "int8", "--quiet"])
        #expect(result.status == 0, "\(result)")
        let exported = try openTensorSource(at: output)
        #expect(exported.tensors.count == fixture.tensors.count + fixture.quantizableNames.count)
        let stored = try CheckpointFile(path: checkpoint)
        for tensor in fixture.tensors {
            let info = try #require(exported.info(for: tensor.name))
            #expect(info.shape == tensor.shape)
            guard fixture.quantizableNames.contains(tensor.name) else {
                #expect(bytes(try exported.data(for: tensor.name)) == tensor.bytes)
                continue
            }
            #expect(info.dtype == .i8)
            let scale = try #require(exported.info(for: tensor.name + "_scale"))
            let rows = tensor.shape[0], columns = tensor.shape[1]
            let expectedShape = switch granularity {
            case "per-tensor": [1]
            case "per-channel": [rows, 1]
            default: [rows, columns / group]
            }
            #expect(scale.shape == expectedShape && scale.dtype == .f32)
            let quantized = try #require(try stored.quantizedWeight(for: tensor.name))
            #expect(bytes(try exported.data(for: tensor.name)) == quantized.codes.withUnsafeBytes { Array($0) })
            #expect(try exported.floats(for: tensor.name + "_scale") == quantized.scales)
            // The int8 layout reads back as the same quantized weight, granularity included.
            let readBack = try #require(try exported.quantizedWeight(for: tensor.name))
            #expect(readBack == quantized)
            #expect(readBack.granularity.name == granularity)
        }
    }

    @Test(arguments: [("f32", DType.f32), ("f16", .f16), ("bf16", .bf16)])
    func dequantizedLayoutWritesFloats(flag: String, dtype: DType) throws {
        let fixture = SafeTensorsFixture.llama(layers: 1)
        let input = try fixture.write(to: folder + "/model.safetensors")
        let checkpoint = folder + "/model.swq"
        #expect(try CLIRunner.run(["convert", input, "-o", checkpoint, "--quiet", "--force"]).status == 0)
        let output = folder + "/deq-\(flag).safetensors"
        let result = try CLIRunner.run(["export", checkpoint, "-o", output, "--layout", "dequantized", "--dtype", flag])
        #expect(result.status == 0, "\(result)")
        let exported = try openTensorSource(at: output)
        let stored = try CheckpointFile(path: checkpoint)
        #expect(exported.tensors.count == fixture.tensors.count)
        for name in fixture.quantizableNames {
            #expect(exported.info(for: name)?.dtype == dtype)
            let expected = try stored.floats(for: name)
            let got = try exported.floats(for: name)
            // f32 is exact; f16/bf16 are q × scale rounded to the type.
            let tolerance: Float = dtype == .f32 ? 0 : (dtype == .f16 ? 1e-3 : 4e-3)
            #expect(zip(expected, got).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($0)) }, "\(name)")
        }
    }

    @Test func badArgumentsAreOneLineErrors() throws {
        let input = try SafeTensorsFixture.llama(layers: 1).write(to: folder + "/model.safetensors")
        let checkpoint = folder + "/model.swq"
        #expect(try CLIRunner.run(["convert", input, "-o", checkpoint, "--quiet"]).status == 0)
        try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/exists.safetensors"))
        let cases: [[String]] = [
            ["export", checkpoint, "-o", folder + "/a.safetensors", "--layout", "int8", "--dtype", "f16"],
            ["export", checkpoint, "-o", folder + "/a.safetensors", "--layout", "int4"],
            ["export", checkpoint, "-o", folder + "/exists.safetensors", "--layout", "int8"],
            ["export", checkpoint, "-o", checkpoint, "--layout", "int8", "--force"],
            ["export", input, "-o", folder + "/b.safetensors", "--layout", "int8"],
        ]
        for arguments in cases {
            let result = try CLIRunner.run(arguments)
            #expect(result.status == 1 && result.stderrLines.count == 1, "\(arguments): \(result)")
        }
        #expect(contents(folder + "/exists.safetensors") == Data("x".utf8))
        #expect(try CheckpointFile(path: checkpoint).tensors.count == 8)
        // The library's message says the remedy in words; the command line adds the flag.
        let exists = try CLIRunner.run(["export", checkpoint, "-o", folder + "/exists.safetensors", "--layout", "int8"])
        #expect(exists.stderrLines.first?.hasSuffix("already exists; choose another output path or replace it explicitly (--force)") == true, "\(exists)")
        #expect(!OutputFileError.exists(path: "out.swq").description.contains("--"))
    }
}
