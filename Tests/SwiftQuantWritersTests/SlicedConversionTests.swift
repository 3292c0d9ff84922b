import Foundation
import Testing
import SwiftQuant

/// Tensors larger than `ConversionOptions.sliceBytes` are quantized, measured and written a
/// slice of rows at a time: the outputs must be the bytes of converting them whole.
@Suite struct SlicedConversionTests {
    let folder = temporaryFolder()

    /// A safetensors model (with a config.json beside it, for the model-folder formats) whose
    /// tensors cover every path: F16, BF16 and F32 sources, per channel, per group, per tensor,
    /// a kept tensor in its own dtype and one re-encoded to F16.
    func writeModel(rows: Int = 2048) throws -> String {
        var header: [String] = []
        var data: [UInt8] = []
        func add(_ name: String, _ dtype: String, _ shape: [Int], _ bytes: [UInt8]) {
            header.append("\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(data.count),\(data.count + bytes.count)]}")
            data += bytes
        }
        let f16 = pseudoRandomFloats(rows * 128, seed: 3).map { Float16($0).bitPattern }
        add("model.layers.0.mlp.up_proj.weight", "F16", [rows, 128], f16.withUnsafeBytes { Array($0) })
        let bf16 = pseudoRandomFloats(rows * 64, seed: 5, scale: 2).map { UInt16($0.bitPattern >> 16) }
        add("model.layers.0.mlp.down_proj.weight", "BF16", [rows, 64], bf16.withUnsafeBytes { Array($0) })
        var f32 = pseudoRandomFloats(rows * 128, seed: 7)
        f32[rows * 100 + 17] = 3  // one outlier sets the per-tensor scale, far from the first slice
        add("model.layers.0.self_attn.o_proj.weight", "F32", [rows, 128], f32.withUnsafeBytes { Array($0) })
        add("model.layers.0.self_attn.q_proj.weight", "F32", [rows, 32], pseudoRandomFloats(rows * 32, seed: 9).withUnsafeBytes { Array($0) })
        add("model.embed_tokens.weight", "F32", [rows, 64], pseudoRandomFloats(rows * 64, seed: 11).withUnsafeBytes { Array($0) })
        add("model.norm.weight", "F32", [64], [Float](repeating: 1, count: 64).withUnsafeBytes { Array($0) })
        let json = "{" + header.joined(separator: ",") + "}"
        var file: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { file += $0 }
        file += json.utf8
        file += data
        let path = folder + "/model.safetensors"
        try Data(file).write(to: URL(fileURLWithPath: path))
        try Data(#"{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}"#.utf8).write(to: URL(fileURLWithPath: folder + "/config.json"))
        return path
    }

    func rules(groupSize: Int = 32, minimumSNR: Int = 20) throws -> RulesConfig {
        try RulesConfig(text: """
            rules:
              - match: "*.up_proj.weight"
                min_snr_db: \(minimumSNR)
                group_size: 32
              - match: "*.down_proj.weight"
                granularity: per-group
                group_size: \(groupSize)
              - match: "*.o_proj.weight"
                granularity: per-tensor
              - match: "*.q_proj.weight"
                action: keep
                keep_dtype: f16
            """, path: "rules.yaml")
    }

    func options(sliceBytes: Int, format: String? = nil, groupSize: Int = 32, minimumSNR: Int = 20) throws -> ConversionOptions {
        var options = ConversionOptions(rules: try rules(groupSize: groupSize, minimumSNR: minimumSNR), format: format, force: true)
        options.sliceBytes = sliceBytes
        // The tensors are llama-named but not a whole llama: GGUF keeps their own names.
        if format == "gguf" { options.architecture = "llama" }
        return options
    }

    /// Every file under `path` (or the file itself), by relative name.
    func contents(_ path: String) throws -> [String: Data] {
        var isFolder: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
        guard isFolder.boolValue else { return ["": try Data(contentsOf: URL(fileURLWithPath: path))] }
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: path) {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: path + "/" + name))
        }
        return files
    }

    @Test("slices aligned to the metrics' chunks give every format the bytes of one slice",
          arguments: [("native", "swq"), ("gguf", "gguf"), ("safetensors", "safetensors"), ("compressed-tensors", "ct"), ("mlx", "mlx")])
    func alignedSlicesAreByteIdentical(format: String, suffix: String) throws {
        let input = try writeModel()
        let whole = folder + "/whole-" + suffix
        let sliced = folder + "/sliced-" + suffix
        // 128 KiB: four slices of the F16 tensor (512 rows of 128, one whole metrics chunk each).
        let wholeReport = try convert(input: input, output: whole, options: try options(sliceBytes: 1 << 40, format: format, groupSize: 64))
        let slicedReport = try convert(input: input, output: sliced, options: try options(sliceBytes: 128 << 10, format: format, groupSize: 64))
        let wholeFiles = try contents(whole), slicedFiles = try contents(sliced)
        #expect(wholeFiles.keys.sorted() == slicedFiles.keys.sorted())
        for (name, bytes) in wholeFiles { #expect(slicedFiles[name] == bytes, "\(format): \(name) differs") }
        #expect(wholeReport.tensors.map(\.snrDecibels?.value) == slicedReport.tensors.map(\.snrDecibels?.value))
        #expect(wholeReport.tensors.map(\.meanAbsError?.value) == slicedReport.tensors.map(\.meanAbsError?.value))
        #expect(wholeReport.tensors.map(\.action) == slicedReport.tensors.map(\.action))
    }

    /// 20 dB passes per channel, 45 falls back to per group 32, 60 keeps the tensor (its
    /// per-channel SNR is about 44.5 dB).
    @Test("min_snr_db on a sliced tensor measures slice by slice and decides as unsliced", arguments: [20, 45, 60])
    func minimumSNRInSlices(threshold: Int) throws {
        let input = try writeModel()
        let whole = folder + "/whole-snr\(threshold).swq", sliced = folder + "/sliced-snr\(threshold).swq"
        let wholeReport = try convert(input: input, output: whole, options: try options(sliceBytes: 1 << 40, minimumSNR: threshold))
        let slicedReport = try convert(input: input, output: sliced, options: try options(sliceBytes: 128 << 10, minimumSNR: threshold))
        #expect(try contents(whole) == contents(sliced))
        let name = "model.layers.0.mlp.up_proj.weight"
        let a = try #require(wholeReport.tensors.first { $0.name == name }), b = try #require(slicedReport.tensors.first { $0.name == name })
        #expect(a.action == b.action && a.granularity == b.granularity && a.note == b.note)
        #expect(a.note?.contains("SNR") == true)
        let expected = [20: "quantize per-channel", 45: "quantize per-group", 60: "keep"][threshold]!
        #expect("\(b.action) \(b.granularity ?? "")".hasPrefix(expected), "\(b.action) \(b.granularity ?? "") \(b.note ?? "")")
    }

    @Test("tiny slices: the same codes, scales and kept bytes; metrics within float summation order")
    func tinySlices() throws {
        let input = try writeModel(rows: 300)
        for (format, suffix) in [("gguf", "gguf"), ("safetensors", "safetensors")] {
            let whole = folder + "/whole-tiny." + suffix, sliced = folder + "/sliced-tiny." + suffix
            _ = try convert(input: input, output: whole, options: try options(sliceBytes: 1 << 40, format: format))
            _ = try convert(input: input, output: sliced, options: try options(sliceBytes: 1000, format: format))
            // Neither format stores the metrics: the files are the same bytes.
            #expect(try contents(whole) == contents(sliced), "\(format) differs")
        }
        let whole = folder + "/whole-tiny.swq", sliced = folder + "/sliced-tiny.swq"
        let wholeReport = try convert(input: input, output: whole, options: try options(sliceBytes: 1 << 40))
        let slicedReport = try convert(input: input, output: sliced, options: try options(sliceBytes: 1000))
        let a = try CheckpointFile(path: whole), b = try CheckpointFile(path: sliced)
        #expect(a.tensors.map(\.name) == b.tensors.map(\.name))
        var quantized = 0
        for tensor in a.tensors {
            if let weight = try a.quantizedWeight(for: tensor.name) {
                quantized += 1
                let other = try #require(try b.quantizedWeight(for: tensor.name))
                #expect(weight.scheme == other.scheme)
                #expect(weight.int8Codes == other.int8Codes, "\(tensor.name) codes differ")
                #expect(weight.scales == other.scales, "\(tensor.name) scales differ")
            } else {
                let x = try a.data(for: tensor.name), y = try b.data(for: tensor.name)
                #expect(x.info.dtype == y.info.dtype)
                #expect(withExtendedLifetime((x, y)) { Array(x.bytes) == Array(y.bytes) }, "\(tensor.name) differs")
            }
        }
        #expect(quantized == 3)
        for (x, y) in zip(wholeReport.tensors, slicedReport.tensors) {
            guard let p = x.snrDecibels?.value, let q = y.snrDecibels?.value else {
                #expect(y.snrDecibels == nil)
                continue
            }
            #expect(abs(p - q) <= 1e-4 * abs(p), "\(x.name): SNR \(p) vs \(q)")
            #expect(x.maxAbsError?.value == y.maxAbsError?.value && x.relativeErrorPercent?.value == y.relativeErrorPercent?.value)
        }
        // And the slices never depend on the thread count.
        let one = folder + "/sliced-tiny-1.swq"
        _ = try Parallelism.withThreads(1) { try convert(input: input, output: one, options: try options(sliceBytes: 1000)) }
        #expect(try contents(one) == contents(sliced))
    }

    @Test("a NaN deep in a sliced tensor is reported at its index in the whole tensor")
    func nonFiniteInALaterSlice() throws {
        let rows = 512
        var weights = pseudoRandomFloats(rows * 64, seed: 2)
        weights[400 * 64 + 5] = .nan
        let json = #"{"w.weight":{"dtype":"F32","shape":[512,64],"data_offsets":[0,131072]}}"#
        var file: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { file += $0 }
        file += json.utf8
        weights.withUnsafeBytes { file += $0 }
        let input = folder + "/nan.safetensors"
        try Data(file).write(to: URL(fileURLWithPath: input))
        for granularity in ["per-channel", "per-tensor"] {
            var options = ConversionOptions(
                rules: try RulesConfig(text: "granularity: \(granularity)\n", path: "rules.yaml"), force: true)
            options.sliceBytes = 4096
            let error = #expect(throws: ConversionError.self) {
                try convert(input: input, output: folder + "/nan.swq", options: options)
            }
            guard case .nonFiniteWeight(_, let tensor, let index, let value) = error else {
                Issue.record("\(granularity): \(String(describing: error))")
                continue
            }
            #expect(tensor == "w.weight" && index == 400 * 64 + 5 && value.isNaN, "\(granularity)")
        }
    }
}
