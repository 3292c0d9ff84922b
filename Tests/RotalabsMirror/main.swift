// rotalabs-mirror: runs the Swift mirror of rotalabs_accel on every weight of a safetensors file
// and writes every result to another safetensors file, for Tests/Interop/check_rotalabs.py.
// Test-only: not a product, not part of the CLI.
//
// Usage: rotalabs-mirror INPUT.safetensors OUTPUT.safetensors
//        rotalabs-mirror --compare-arithmetic MODEL.safetensors   (fp32 model: .float32 vs .reference
//        arithmetic on its fp16 and bf16 casts: differing codes/scales, SNR against the fp32 weights)
// Input: `w:<case>` weights (F32/F16/BF16) and optional `x:<case>` F32 activations [batch, in].
// Output keys (qd: quantize dimension none/0/1/-1; dd: dequantize dimension none/0/1):
//   q:<case>:<qd> I8, s:<case>:<qd> F32, dq:<case>:<qd>:<dd>:<F32|F16|BF16>, m:<case>:<qd>:<dd> F32[4],
//   pq:<case> / ps:<case> (quantizeWeightPerChannel), lq:<case> / ls:<case> (QuantizedLinear
//   weightInt8 / weightScale), fwd:<case>:<F32|F16>. A call that throws is recorded in
//   __metadata__ under its key with the error text.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import SwiftQuant

struct Output {
    var entries: [(name: String, dtype: String, shape: [Int], bytes: [UInt8])] = []
    var errors: [String: String] = [:]

    mutating func add(_ name: String, _ dtype: String, _ shape: [Int], _ bytes: [UInt8]) {
        entries.append((name, dtype, shape, bytes))
    }

    mutating func add(_ name: String, _ tensor: Int8Tensor) {
        add(name, "I8", tensor.shape, tensor.storage.map { UInt8(bitPattern: $0) })
    }

    mutating func add(_ name: String, _ tensor: FloatTensor) {
        add(name, "F32", tensor.shape, TypedFloatTensor(tensor).encoded)
    }

    mutating func add(_ name: String, _ tensor: TypedFloatTensor) {
        add(name, dtypeName(tensor.dtype), tensor.shape, tensor.encoded)
    }

    mutating func attempt(_ name: String, _ body: (inout Output) throws -> Void) {
        do { try body(&self) } catch { errors[name] = "\(error)" }
    }

    func write(to path: String) throws {
        var header = "{"
        var offset = 0
        let metadata = errors.sorted { $0.key < $1.key }.map { "\(quoted($0.key)):\(quoted($0.value))" }
        header += "\"__metadata__\":{" + metadata.joined(separator: ",") + "}"
        for entry in entries {
            header += ",\(quoted(entry.name)):{\"dtype\":\"\(entry.dtype)\",\"shape\":\(entry.shape),\"data_offsets\":[\(offset),\(offset + entry.bytes.count)]}"
            offset += entry.bytes.count
        }
        header += "}"
        while header.utf8.count % 8 != 0 { header += " " }
        var data = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        for entry in entries { data.append(contentsOf: entry.bytes) }
        try data.write(to: URL(fileURLWithPath: path))
    }
}

func quoted(_ text: String) -> String {
    let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    return "\"" + escaped + "\""
}

func dtypeName(_ encoding: FloatEncoding) -> String {
    switch encoding {
    case .float16: "F16"
    case .bfloat16: "BF16"
    case .float32: "F32"
    case .float64: "F64"
    }
}

func label(_ dimension: Int?) -> String { dimension.map(String.init) ?? "none" }

/// Casts every 2-D F32 weight to `encoding`, quantizes it with both arithmetics at
/// `granularity`, and prints how many codes and scales differ and the SNR of each against the
/// Float32 weights.
func compareArithmetic(_ path: String) throws {
    let model = try SafeTensorsFile(path: path)
    for encoding in [FloatEncoding.float16, .bfloat16] {
        for granularity in [Granularity.perTensor, .perChannel] {
            var codes = 0, codeDiffs = 0, scales = 0, scaleDiffs = 0, referenceBetter = 0, float32Better = 0, ties = 0
            var snrSums = (float32: 0.0, reference: 0.0), tensors = 0, zeroedRows = (float32: 0, reference: 0)
            var worst = (float32: Float.infinity, reference: Float.infinity)
            for info in model.tensors where info.shape.count == 2 && info.dtype == .f32 {
                let weights = try model.floats(for: info.name)
                let cast = try TypedFloatTensor(dtype: encoding, shape: info.shape, values: weights)
                let encoded = cast.encoded
                var results: [Arithmetic: (values: [Int8], scales: [Float], snr: Float)] = [:]
                for arithmetic in Arithmetic.allCases {
                    var values = [Int8](repeating: 0, count: weights.count)
                    var scaleValues = [Float](repeating: 1, count: scaleCount(shape: info.shape, granularity: granularity))
                    try encoded.withUnsafeBytes { bytes in
                        try values.withUnsafeMutableBufferPointer { output in
                            try scaleValues.withUnsafeMutableBufferPointer { scaleOutput in
                                try quantizeSymmetric(encoded: bytes, encoding: encoding, shape: info.shape, granularity: granularity,
                                                      arithmetic: arithmetic, values: output, scales: scaleOutput)
                            }
                        }
                    }
                    let snr = quantizationError(
                        original: try FloatTensor(shape: info.shape, storage: weights),
                        quantized: try QuantizedWeight(shape: info.shape, scheme: .symmetricInt8(granularity), int8Codes: values, scales: scaleValues)).snrDecibels
                    results[arithmetic] = (values, scaleValues, snr)
                }
                let f = results[.float32]!, r = results[.reference]!
                codes += f.values.count
                codeDiffs += zip(f.values, r.values).filter { $0 != $1 }.count
                scales += f.scales.count
                scaleDiffs += zip(f.scales, r.scales).filter { $0 != $1 }.count
                if r.snr > f.snr { referenceBetter += 1 } else if f.snr > r.snr { float32Better += 1 } else { ties += 1 }
                snrSums.float32 += Double(f.snr)
                snrSums.reference += Double(r.snr)
                worst = (min(worst.float32, f.snr), min(worst.reference, r.snr))
                tensors += 1
                if granularity == .perChannel {
                    let columns = info.shape[1]
                    for row in 0..<info.shape[0] where weights[row * columns..<(row + 1) * columns].contains(where: { $0 != 0 }) {
                        if f.values[row * columns..<(row + 1) * columns].allSatisfy({ $0 == 0 }) { zeroedRows.float32 += 1 }
                        if r.values[row * columns..<(row + 1) * columns].allSatisfy({ $0 == 0 }) { zeroedRows.reference += 1 }
                    }
                }
            }
            print("\(encoding) \(granularity): \(tensors) tensors; codes differing \(codeDiffs)/\(codes) "
                + String(format: "(%.2f %%)", 100 * Double(codeDiffs) / Double(max(codes, 1)))
                + "; scales differing \(scaleDiffs)/\(scales); SNR vs fp32 weights: mean float32 "
                + String(format: "%.3f dB, reference %.3f dB", snrSums.float32 / Double(tensors), snrSums.reference / Double(tensors))
                + String(format: "; worst %.3f / %.3f dB", Double(worst.float32), Double(worst.reference))
                + "; float32 closer on \(float32Better), reference on \(referenceBetter), equal \(ties)"
                + "; non-zero rows quantized to all zeros: float32 \(zeroedRows.float32), reference \(zeroedRows.reference)")
        }
    }
}

let arguments = CommandLine.arguments
if arguments.count == 3 && arguments[1] == "--compare-arithmetic" {
    do {
        try compareArithmetic(arguments[2])
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("rotalabs-mirror: \(error)\n".utf8))
        exit(1)
    }
}
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: rotalabs-mirror INPUT.safetensors OUTPUT.safetensors\n".utf8))
    exit(2)
}
do {
    let input = try SafeTensorsFile(path: arguments[1])
    var output = Output()
    for info in input.tensors where info.name.hasPrefix("w:") {
        let name = String(info.name.dropFirst(2))
        guard let encoding = info.dtype.floatEncoding else { continue }
        let raw = try input.rawData(for: info.name)
        let weight = try TypedFloatTensor(encoded: Array(raw.bytes), dtype: encoding, shape: info.shape)
        for qd in [nil, 0, 1, -1] as [Int?] {
            output.attempt("q:\(name):\(label(qd))") { output in
                let (quantized, scale) = try quantizeSymmetric(weight, dimension: qd)
                output.add("q:\(name):\(label(qd))", quantized)
                output.add("s:\(name):\(label(qd))", scale)
                for dd in [nil, 0, 1] as [Int?] {
                    for dtype in [FloatEncoding.float32, .float16, .bfloat16] {
                        let key = "dq:\(name):\(label(qd)):\(label(dd)):\(dtypeName(dtype))"
                        output.attempt(key) { output in
                            output.add(key, try dequantize(quantized, scale: scale, dtype: dtype, dimension: dd))
                        }
                    }
                    let key = "m:\(name):\(label(qd)):\(label(dd))"
                    output.attempt(key) { output in
                        let m = try calculateQuantizationError(original: weight, quantized: quantized, scale: scale, dimension: dd)
                        output.add(key, try FloatTensor(shape: [4], storage: [m.maxAbsError, m.meanAbsError, m.relativeErrorPercent, m.snrDecibels]))
                    }
                }
            }
        }
        output.attempt("pq:\(name)") { output in
            let (quantized, scales) = try quantizeWeightPerChannel(weight)
            output.add("pq:\(name)", quantized)
            output.add("ps:\(name)", scales)
        }
        guard info.shape.count == 2 else { continue }
        output.attempt("lq:\(name)") { output in
            var layer = QuantizedLinear(inFeatures: info.shape[1], outFeatures: info.shape[0])
            try layer.quantizeWeights(weight)
            output.add("lq:\(name)", layer.weightInt8)
            output.add("ls:\(name)", layer.weightScale)
            guard let x = input.info(for: "x:\(name)") else { return }
            let activations = try TypedFloatTensor(encoded: Array(try input.rawData(for: x.name).bytes), dtype: .float32, shape: x.shape)
            for dtype in [FloatEncoding.float32, .float16] {
                let key = "fwd:\(name):\(dtypeName(dtype))"
                output.attempt(key) { output in output.add(key, try layer.forward(try activations.to(dtype))) }
            }
        }
    }
    try output.write(to: arguments[2])
} catch {
    FileHandle.standardError.write(Data("rotalabs-mirror: \(error)\n".utf8))
    exit(1)
}
