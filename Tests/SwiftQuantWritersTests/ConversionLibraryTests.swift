import Foundation
import Testing
import SwiftQuant

/// The conversion library used directly, without the command line: the format registry,
/// `convert`, `export` and `verify`, and the Codable reports.
@Suite struct ConversionLibraryTests {
    let folder = temporaryFolder()

    /// A safetensors file with a [rows, 64] F32 weight and a 1-D norm, written by hand.
    func writeModel(_ name: String, weights: [Float]? = nil) throws -> String {
        let weight = weights ?? pseudoRandomFloats(32 * 64, seed: 11)
        let norm = [Float](repeating: 1, count: 64)
        let header = #"{"layer.weight":{"dtype":"F32","shape":[32,64],"data_offsets":[0,8192]},"norm.weight":{"dtype":"F32","shape":[64],"data_offsets":[8192,8448]}}"#
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
        bytes += header.utf8
        weight.withUnsafeBytes { bytes += $0 }
        norm.withUnsafeBytes { bytes += $0 }
        let path = folder + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("convert, verify and export are one call each and agree with each other")
    func convertVerifyExport() throws {
        let input = try writeModel("model.safetensors")
        let output = folder + "/model.swq"
        var progressCalls = 0
        let report = try convert(input: input, output: output) { _ in progressCalls += 1 }
        #expect(report.format == "native")
        #expect(progressCalls == 2)
        #expect(report.quantized.map(\.name) == ["layer.weight"])
        let size = try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int
        #expect(report.outputBytes > 0 && report.outputBytes == size)

        let checked = try verify(checkpoint: output, against: input)
        #expect(checked.ok)
        #expect(checked.arithmetic == .float32)
        #expect(checked.tensors.first?.metrics?.snrDecibels == report.tensors.first?.snrDecibels?.value)

        let exported = folder + "/model-int8.safetensors"
        try export(checkpoint: output, output: exported, layout: .int8)
        let file = try SafeTensorsFile(path: exported)
        #expect(Set(file.tensors.map(\.name)) == ["layer.weight", "layer.weight_scale", "norm.weight"])
        #expect(file.metadata["swiftquant.layout"] == .string("int8"))
        // The exported codes are the checkpoint's, passed through the converter unchanged.
        let stored = try #require(try CheckpointFile(path: output).quantizedWeight(for: "layer.weight"))
        let codes = try file.data(for: "layer.weight")
        #expect(withExtendedLifetime(codes) { Array(codes.bytes) } == stored.withInt8Codes { Array(UnsafeRawBufferPointer($0)) })
    }

    @Test("the report's JSON round-trips, and a non-finite SNR is null")
    func reportJSON() throws {
        // An all-zero weight: SNR −inf, which JSON cannot hold.
        let input = try writeModel("zeros.safetensors", weights: [Float](repeating: 0, count: 32 * 64))
        let report = try convert(input: input, output: folder + "/zeros.swq")
        #expect(report.tensors.first?.snrDecibels?.value == -.infinity)
        let data = try JSONEncoder.report(pretty: false).encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        #expect(tensors.first?["snr_db"] is NSNull)
        #expect(object["tensors_quantized"] as? Int == 1)
        let decoded = try JSONDecoder().decode(ConversionReport.self, from: data)
        #expect(decoded.tensors.map(\.name) == report.tensors.map(\.name))
        #expect(decoded.inputBytes == report.inputBytes && decoded.format == report.format)
    }

    @Test("a registered output format is chosen by its suffix and by its name")
    func registeredOutputFormat() throws {
        var registry = FormatRegistry.standard
        registry.register(OutputFormat(name: "int8-safetensors", suffixes: [".i8.safetensors"]) { request in
            let file = try request.createFile()
            return OutputTarget(writer: SafeTensorsWriter(output: file, layout: .int8), file: file)
        })
        #expect(try registry.outputFormat(named: nil, forPath: "x.I8.SAFETENSORS").name == "int8-safetensors")
        #expect(try registry.outputFormat(named: nil, forPath: "x.gguf").name == "gguf")
        #expect(try registry.outputFormat(named: nil, forPath: "x.bin").name == "native")
        // mlx is a registered model-folder format now: an unknown name is one no module registers.
        #expect(throws: FormatRegistryError.unknownOutputFormat("tflite", known: registry.outputFormatNames)) {
            try registry.outputFormat(named: "tflite", forPath: "x")
        }
        let input = try writeModel("registered.safetensors")
        let report = try convert(input: input, output: folder + "/out.i8.safetensors", registry: registry)
        #expect(report.format == "int8-safetensors")
        #expect(try SafeTensorsFile(path: folder + "/out.i8.safetensors").info(for: "layer.weight_scale") != nil)
    }

    @Test("a registered input format is recognised by content and tried before the standard ones")
    func registeredInputFormat() throws {
        var registry = FormatRegistry.standard
        // Claims every safetensors file, to show it goes first; opens it as usual but renamed.
        registry.register(InputFormat(
            name: "custom", recognizes: { TensorSourceFormat(recognizing: $0) == .safeTensors },
            open: { file, _ in try SafeTensorsFile(file: file) }))
        #expect(registry.inputs.first?.name == "custom")
        let input = try writeModel("custom.safetensors")
        #expect(try registry.openTensorSource(at: input).tensors.count == 2)
        var empty = FormatRegistry()
        empty.register(OutputFormat(name: "only", suffixes: []) { _ in throw FormatRegistryError.unknownOutputFormat("only", known: []) })
        #expect(throws: TensorSourceError.self) { try empty.openTensorSource(at: input) }
    }
}
