import Foundation
import Testing
@testable import SwiftQuantCore
@testable import SwiftQuantKernels
@testable import SwiftQuantSafeTensors
@testable import SwiftQuantCheckpoint
@testable import SwiftQuantPlan
@testable import SwiftQuantConversion

/// Names are compared as exact UTF-8 bytes in every format (the specs say so): "café" spelled
/// with U+00E9 and "café" spelled e + U+0301 are canonically equivalent, so Swift's `String`
/// calls them equal, but Python's safetensors reads them as two tensors, and so must we.
@Suite struct ByteExactNameTests {
    static let composed = "layer.caf\u{E9}.weight"
    static let decomposed = "layer.cafe\u{301}.weight"

    /// A safetensors file with the two names, each [2, 32] F32 with its own values.
    static func safetensorsFile() throws -> (path: String, first: [Float], second: [Float]) {
        let first = pseudoRandomFloats(64, seed: 21), second = pseudoRandomFloats(64, seed: 22)
        let header = "{\"\(composed)\":{\"dtype\":\"F32\",\"shape\":[2,32],\"data_offsets\":[0,256]},"
            + "\"\(decomposed)\":{\"dtype\":\"F32\",\"shape\":[2,32],\"data_offsets\":[256,512]}}"
        let headerBytes = Array(header.utf8)
        var bytes = withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian, Array.init) + headerBytes
        bytes += first.withUnsafeBytes { Array($0) } + second.withUnsafeBytes { Array($0) }
        let path = temporaryFolder() + "/names.safetensors"
        writeBytes(bytes, to: path)
        return (path, first, second)
    }

    @Test func canonicallyEquivalentNamesAreTwoTensors() throws {
        #expect(Self.composed == Self.decomposed, "the premise: Swift's String equality merges them")
        let (path, first, second) = try Self.safetensorsFile()
        let file = try SafeTensorsFile(path: path)
        #expect(file.tensors.map(\.name.utf8.count) == [Self.composed.utf8.count, Self.decomposed.utf8.count])
        #expect(try file.floats(for: Self.composed) == first)
        #expect(try file.floats(for: Self.decomposed) == second)
        let source: any TensorSource = file
        #expect(source.info(for: Self.decomposed).map { Array($0.name.utf8) } == Array(Self.decomposed.utf8))
    }

    @Test func canonicallyEquivalentNamesSurviveACheckpoint() throws {
        let (path, first, second) = try Self.safetensorsFile()
        let source = try SafeTensorsFile(path: path)
        let plan = QuantizationPlan(tensors: source.tensors)
        #expect(plan.decision(for: Self.decomposed).map { Array($0.tensor.name.utf8) } == Array(Self.decomposed.utf8))
        let output = try AtomicOutputFile(destination: temporaryFolder() + "/names.swq", force: true)
        let writer = CheckpointWriter(output: output)
        _ = try Converter(source: source, decisions: plan.decisions, sink: writer, metadata: [:]).run()
        try output.commit()

        let checkpoint = try CheckpointFile(path: output.destination)
        #expect(checkpoint.entries.count == 2)
        let expected = [(Self.composed, first), (Self.decomposed, second)]
        for (name, weights) in expected {
            let entry = try checkpoint.entry(named: name)
            #expect(Array(entry.name.utf8) == Array(name.utf8))
            let quantized = try quantizeSymmetric(FloatTensor(shape: [2, 32], storage: weights), granularity: .perChannel)
            #expect(try checkpoint.floats(for: name) == dequantize(quantized).storage, "\(name.unicodeScalars.count) scalars")
        }
    }
}
