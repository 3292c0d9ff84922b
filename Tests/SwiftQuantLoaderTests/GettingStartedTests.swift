import Foundation
import Testing
import SwiftQuant

/// The getting-started article (Sources/SwiftQuant/SwiftQuant.docc/GettingStarted.md), step by
/// step with its one `import SwiftQuant`: convert a safetensors file with the library calls
/// `swiftquant convert` makes, then load and run the layers the article names.
@Suite struct GettingStartedTests {
    /// A safetensors file with the article's tensor names, F32, written byte by byte.
    func modelFile(hidden: Int, inner: Int) throws -> String {
        let tensors: [(String, [Int])] = [
            ("embeddings.LayerNorm.weight", [hidden]),
            ("encoder.layer.0.attention.self.query.weight", [hidden, hidden]),
            ("encoder.layer.0.attention.self.query.bias", [hidden]),
            ("encoder.layer.0.output.dense.weight", [hidden, inner]),
        ]
        var header: [String] = []
        var data: [UInt8] = []
        for (index, (name, shape)) in tensors.enumerated() {
            let values = randomFloats(shape.reduce(1, *), seed: UInt64(40 + index), scale: 0.1)
            let begin = data.count
            data += values.withUnsafeBytes { Array($0) }
            header.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(data.count)]}")
        }
        let json = Array(("{" + header.joined(separator: ",") + "}").utf8)
        let path = temporaryFolder() + "/model.safetensors"
        let bytes = withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + data
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        return path
    }

    @Test func convertThenLoadAndRunALayer() throws {
        let hidden = 32, inner = 64, tokens = 4
        let input = try modelFile(hidden: hidden, inner: inner)

        // swiftquant convert model.safetensors -o model.swq
        let source = try openTensorSource(at: input)
        let plan = QuantizationPlan(tensors: source.tensors)
        let path = URL(fileURLWithPath: input).deletingLastPathComponent().appendingPathComponent("model.swq").path
        let output = try AtomicOutputFile(destination: path, force: true)
        let metadata = Converter.standardMetadata(source: source, rulesJSON: "{}", compression: "zstd-1", toolVersion: "test")
        _ = try Converter(source: source, decisions: plan.decisions, sink: CheckpointWriter(output: output), metadata: metadata).run()
        try output.commit()

        // The article's Swift.
        let checkpoint = try CheckpointFile(path: "\(path)")
        let query = try checkpoint.quantizedLinear("encoder.layer.0.attention.self.query")
        let activations = randomFloats(tokens * query.inFeatures, seed: 50)
        let x = try FloatTensor(shape: [tokens, query.inFeatures], storage: activations)
        let y = try query(x)
        #expect(y.shape == [tokens, query.outFeatures])

        // y = x · Wᵀ + b with the stored INT8 weights dequantized, summed here in Double.
        let weight = try checkpoint.floats(for: "encoder.layer.0.attention.self.query.weight")
        let bias = try checkpoint.floats(for: "encoder.layer.0.attention.self.query.bias")
        for t in 0..<tokens {
            for o in 0..<query.outFeatures {
                var sum = Double(bias[o])
                for i in 0..<query.inFeatures { sum += Double(activations[t * hidden + i]) * Double(weight[o * hidden + i]) }
                #expect(abs(Double(y.storage[t * query.outFeatures + o]) - sum) < 1e-4)
            }
        }

        let dense = try checkpoint.linearLayer("encoder.layer.0.output.dense")
        #expect(dense is QuantizedLinear)
        let norm = try checkpoint.floats(for: "embeddings.LayerNorm.weight")
        #expect(norm == randomFloats(hidden, seed: 40, scale: 0.1), "kept tensors come back exactly")
    }
}
