import Foundation
import Testing
import SwiftQuant
@testable import SwiftQuantNN

/// Writes a safetensors file by hand: `[u64 N][N bytes of JSON][data]`, tensors in order.
func writeSafeTensors(_ tensors: [(name: String, dtype: String, shape: [Int], bytes: [UInt8])]) throws -> String {
    var entries: [String] = []
    var data: [UInt8] = []
    for tensor in tensors {
        let shape = tensor.shape.map(String.init).joined(separator: ",")
        entries.append("\"\(tensor.name)\":{\"dtype\":\"\(tensor.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(data.count),\(data.count + tensor.bytes.count)]}")
        data += tensor.bytes
    }
    let header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
    var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
    file += header + data
    let path = temporaryFolder() + "/model.safetensors"
    #expect(FileManager.default.createFile(atPath: path, contents: Data(file)))
    return path
}

@Suite("Float layers from safetensors")
struct SafeTensorsLinearTests {
    @Test("F32 weights are used in place, F16 weights are decoded, a missing bias is nil")
    func loadsLayers() throws {
        let weight = randomFloats(6 * 10, seed: 21)
        let bias = randomFloats(6, seed: 22)
        let half = randomFloats(4 * 10, seed: 23).map { Float16($0) }
        let path = try writeSafeTensors([
            // An odd-length tensor first, so the F32 weight after it is not 4-byte aligned.
            ("odd", "U8", [3], [1, 2, 3]),
            ("dense.weight", "F32", [6, 10], weight.withUnsafeBytes { Array($0) }),
            ("dense.bias", "F32", [6], bias.withUnsafeBytes { Array($0) }),
            ("half.weight", "F16", [4, 10], half.withUnsafeBytes { Array($0) }),
            ("ints.weight", "I32", [2, 2], [UInt8](repeating: 0, count: 16)),
        ])
        let source = try openTensorSource(at: path)
        let dense = try source.linear("dense")
        let viewsTheMap = dense.buffer.owner is MappedFile
        #expect(viewsTheMap)
        #expect(dense.weight.storage == weight)
        #expect(dense.bias == bias)
        let x = randomTensor([3, 10], seed: 24)
        let reference = referenceProduct(input: x.storage, batch: 3, weight: weight, outFeatures: 6, inFeatures: 10, bias: bias)
        #expect(worstRelativeError(try dense(x).storage, reference) < 1e-5)

        let halfLayer = try source.linear("half")
        #expect(halfLayer.bias == nil)
        #expect(halfLayer.weight.storage == half.map(Float.init))

        #expect(throws: LayerLoadingError.unsupportedWeightType(path: path, tensor: "ints.weight", dtype: .i32)) {
            try source.linear("ints")
        }
        #expect(throws: TensorSourceError.noSuchTensor(path: path, name: "missing.weight")) {
            try source.linear("missing")
        }
    }
}
