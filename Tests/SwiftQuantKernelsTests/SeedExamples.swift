import Foundation
import Testing
import SwiftQuant

/// The seed's (rotalabs-accel 1.1.1) usage examples, ported line by line to the Swift mirror:
/// the docstring examples of `quantization/symmetric.py` and the README's Quick Start.
@Suite struct SeedExamples {
    /// `>>> weight = torch.randn(4096, 4096, dtype=torch.float16)` (smaller here)
    /// `>>> weight_int8, scale = quantize_symmetric(weight)`
    /// `>>> weight_fp16 = dequantize(weight_int8, scale)`
    /// `>>> error = (weight - weight_fp16).abs().max()`
    @Test func quantizeSymmetricDocstring() throws {
        var generator = SeededGenerator(seed: 4096)
        let values = (0..<(64 * 64)).map { _ in Float.random(in: -3...3, using: &generator) }
        let weight = try TypedFloatTensor(dtype: .float16, shape: [64, 64], values: values)
        let (weightInt8, scale) = try quantizeSymmetric(weight)
        let weightFP16 = try dequantize(weightInt8, scale: scale)
        #expect(weightFP16.dtype == .float16 && weightFP16.shape == [64, 64])
        let error = zip(weight.storage, weightFP16.storage).map { abs($0 - $1) }.max()!
        // Per tensor: at most half a step, plus the Float16 rounding of w/scale and of the result.
        #expect(error <= scale.storage[0] * 0.5 + 2 * Float(Float16(3).ulp))
    }

    /// `>>> weight_int8, scale = quantize_symmetric(weight_fp16)`
    /// `>>> weight_restored = dequantize(weight_int8, scale)`
    @Test func dequantizeDocstring() throws {
        let weightFP16 = try TypedFloatTensor(float16: [1, -2, 0.5, 4], shape: [2, 2])
        let (weightInt8, scale) = try quantizeSymmetric(weightFP16)
        let weightRestored = try dequantize(weightInt8, scale: scale)
        #expect(weightRestored.dtype == .float16)
        // scale = fp16(4/127); every restored value is within half a step.
        for (w, r) in zip(weightFP16.storage, weightRestored.storage) { #expect(abs(w - r) <= scale.storage[0] / 2 + 1e-3) }
    }

    /// `>>> W = torch.randn(4096, 4096, dtype=torch.float16)`
    /// `>>> W_int8, scales = quantize_weight_per_channel(W)`
    @Test func quantizeWeightPerChannelDocstring() throws {
        let w = try TypedFloatTensor(float16: [1, -2, 0.25, 0.5], shape: [2, 2])
        let (wInt8, scales) = try quantizeWeightPerChannel(w)
        #expect(wInt8.shape == [2, 2] && scales.shape == [2])
        // Row maxima 2 and 0.5: each row's largest magnitude maps to ±127.
        #expect(wInt8.storage[1] == -127 && wInt8.storage[3] == 127)
        #expect(throws: KernelError.notAMatrix(shape: [4])) { try quantizeWeightPerChannel(FloatTensor(shape: [4], storage: [1, 2, 3, 4])) }
    }

    /// `>>> linear = QuantizedLinear(4096, 4096)`, `>>> linear.quantize_weights(pretrained_weight)`,
    /// `>>> y = linear(x)  # x is FP16, y is FP16`
    @Test func quantizedLinearDocstring() throws {
        var generator = SeededGenerator(seed: 7)
        let pretrained = try TypedFloatTensor(
            dtype: .float16, shape: [16, 32], values: (0..<512).map { _ in Float.random(in: -1...1, using: &generator) })
        var linear = QuantizedLinear(inFeatures: 32, outFeatures: 16)
        #expect(linear.bias == nil)   // bias=False by default, as the reference
        #expect(throws: LayerError.notQuantized(inFeatures: 32, outFeatures: 16)) {
            try linear.forward(TypedFloatTensor(dtype: .float16, shape: [1, 32], values: [Float](repeating: 0, count: 32)))
        }
        try linear.quantizeWeights(pretrained)
        let x = try TypedFloatTensor(dtype: .float16, shape: [2, 32], values: (0..<64).map { _ in Float.random(in: -1...1, using: &generator) })
        let y = try linear.forward(x)
        #expect(y.dtype == .float16 && y.shape == [2, 16])
        // Float32 in → Float32 out, and the attribute names of the reference.
        #expect(try linear.forward(x.to(.float32)).dtype == .float32)
        #expect(linear.weightInt8.shape == [16, 32] && linear.weightScale.shape == [16])
        // from_linear keeps the bias.
        let float = try Linear(weight: pretrained.float32, bias: [Float](repeating: 0.5, count: 16))
        #expect(try QuantizedLinear.fromLinear(float).bias == float.bias)
    }

    /// The QuantizedLinear bridge refuses per-column scales, even on a square weight where
    /// their count equals the row count.
    @Test func bridgeRefusesPerColumnScales() throws {
        let square = try FloatTensor(shape: [2, 2], storage: [1, 100, 2, 3])
        let (columns, columnScales) = try quantizeSymmetric(square, dimension: 0)
        #expect(throws: LayerError.self) { try QuantizedLinear(quantized: columns, scale: columnScales) }
        let (rows, rowScales) = try quantizeSymmetric(square, dimension: 1)
        let layer = try QuantizedLinear(quantized: rows, scale: rowScales)
        #expect(layer.weightScale == rowScales && layer.weightInt8.storage == rows.storage)
        let handMade = try Int8Tensor(shape: [2, 2], storage: rows.storage)
        #expect(throws: KernelError.self) { try QuantizedWeight(handMade, scale: rowScales) }
    }

    @Test func bitsOtherThanEightAreAnError() {
        #expect(throws: KernelError.unsupportedBits(4)) { try quantizeSymmetric(FloatTensor(shape: [1], storage: [1]), bits: 4) }
    }

    /// The README's Quick Start ("Quantization"), ported; its last call is fixed as in
    /// check_rotalabs.py (the reference's README passes only `x`). With
    /// $SWIFTQUANT_QUICKSTART_EXPECTED (set by Tests/Interop/check_rotalabs.py, which ran the
    /// reference), every printed line must equal the reference's.
    @Test func quickStart() throws {
        let x = try FloatTensor(shape: [8, 8], storage: (0..<64).map { (Float($0) - 31.5) / 7 })
        let weight = try TypedFloatTensor(
            dtype: .float16, shape: [12, 8], values: (0..<96).map { Float(($0 * 37) % 101 - 50) / 13 })

        // Per-tensor quantization
        let (xQuant, scale) = try quantizeSymmetric(x)
        let xRecon = try dequantize(xQuant, scale: scale)
        // Per-channel weight quantization
        let (wQuant, scales) = try quantizeWeightPerChannel(weight)
        // Measure quantization error
        let error = try calculateQuantizationError(original: x, quantized: xQuant, scale: scale)
        var linear = QuantizedLinear(inFeatures: 8, outFeatures: 12)
        try linear.quantizeWeights(weight)
        let firstRows = try FloatTensor(shape: [2, 8], storage: Array(x.storage[..<16]))
        let y = try linear.forward(TypedFloatTensor(firstRows).to(.float16))

        let lines = [
            "x_recon dtype: \(xRecon.dtype)",
            "scale: " + String(format: "%.9g", Double(scale.storage[0])),
            "w_quant row 0: " + wQuant.storage[..<8].map { "\($0)" }.joined(separator: ", "),
            "scales[0..2]: " + scales.storage[..<3].map { String(format: "%.9g", Double($0)) }.joined(separator: ", "),
            "Quantization max_abs_error: " + String(format: "%.6f", Double(error[referenceKey: "max_abs_error"]!)),
            "Quantization snr_db: " + String(format: "%.2f", Double(error.snrDecibels)),
            "y dtype: \(y.dtype), shape: \(y.shape)",
            "y row 0: " + y.storage[..<12].map { String(format: "%.9g", Double($0)) }.joined(separator: ", "),
        ]
        for line in lines { print("QUICKSTART", line) }
        #expect(xRecon.dtype == .float16 && y.dtype == .float16)
        if let path = ProcessInfo.processInfo.environment["SWIFTQUANT_QUICKSTART_EXPECTED"] {
            let expected = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(lines == expected)
        }
    }
}
