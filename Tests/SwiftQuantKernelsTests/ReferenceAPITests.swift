import Testing
import SwiftQuant

/// The Swift mirrors of rotalabs_accel's quantize_symmetric / dequantize /
/// quantize_weight_per_channel / calculate_quantization_error.
@Suite struct ReferenceAPITests {
    // Column maxima 127, 254, 63.5 → scales 1, 2, 0.5. Row maxima 254, 127 → scales 2, 1.
    private let weight = try! FloatTensor(shape: [2, 3], storage: [1, -254, 0.5, 127, 5, -63.5])

    @Test func dimensionOneIsOneScalePerRow() throws {
        let (quantized, scale) = try quantizeSymmetric(weight, dimension: 1)
        #expect(scale.shape == [2] && scale.storage == [2, 1])
        // Row 1 / 2: 0.5, -127, 0.25. Row 2 / 1: 127, 5, -63.5 → -64.
        #expect(quantized.shape == [2, 3] && quantized.storage == [0, -127, 0, 127, 5, -64])
        let fromEnd = try quantizeSymmetric(weight, dimension: -1)
        #expect(fromEnd.quantized == quantized && fromEnd.scale == scale)
        let perChannel = try quantizeWeightPerChannel(weight)
        #expect(perChannel.quantized == quantized && perChannel.scales == scale)
    }

    @Test func dimensionZeroIsOneScalePerColumn() throws {
        let (quantized, scale) = try quantizeSymmetric(weight, dimension: 0)
        #expect(scale.shape == [3] && scale.storage == [1, 2, 0.5])
        // Column 2 / 2: -127, 2.5 → 2. Column 3 / 0.5: 1, -127.
        #expect(quantized.storage == [1, -127, 1, 127, 2, -127])
    }

    @Test func noDimensionIsPerTensor() throws {
        let (quantized, scale) = try quantizeSymmetric(weight, dimension: nil)
        #expect(scale.shape == [] && scale.storage == [2])
        // / 2: 0.5 → 0, -127, 0.25 → 0, 63.5 → 64, 2.5 → 2, -31.75 → -32.
        #expect(quantized.storage == [0, -127, 0, 64, 2, -32])
    }

    @Test func scalarTensorHasOneScale() throws {
        let scalar = try FloatTensor(shape: [], storage: [-254])
        for dimension in [nil, 0, -1] as [Int?] {
            let (quantized, scale) = try quantizeSymmetric(scalar, dimension: dimension)
            #expect(quantized.shape == [] && quantized.storage == [-127])
            #expect(scale.shape == [] && scale.storage == [2])
        }
    }

    @Test func badDimensionIsAnError() {
        #expect(throws: KernelError.invalidDimension(2, rank: 2)) { try quantizeSymmetric(weight, dimension: 2) }
        #expect(throws: KernelError.invalidDimension(-3, rank: 2)) { try quantizeSymmetric(weight, dimension: -3) }
    }

    @Test func dequantizeInvertsEachDimension() throws {
        for dimension in [nil, 0, 1, -1] as [Int?] {
            let (quantized, scale) = try quantizeSymmetric(weight, dimension: dimension)
            // dequantize's `dimension` is the reference's: nil/0 = scales along rows, 1 = along columns.
            let restored = try dequantize(quantized, scale: scale, dtype: .float32, dimension: dimension == 0 ? 1 : nil)
            #expect(restored.shape == weight.shape)
            for i in 0..<6 {
                #expect(restored.storage[i] == Float(quantized.storage[i]) * scale.storage[dimension == 0 ? i % 3 : (dimension == nil ? 0 : i / 3)])
            }
        }
        // The reference's default: a 1-D scale of a 2-D tensor is per row.
        let (quantized, scale) = try quantizeWeightPerChannel(weight)
        #expect(try dequantize(quantized, scale: scale, dtype: .float32, dimension: nil).storage == [0, -254, 0, 127, 5, -64])
        #expect(throws: KernelError.self) { try dequantize(quantized, scale: FloatTensor(shape: [3], storage: [1, 1, 1]), dimension: nil) }
    }

    @Test func calculateQuantizationErrorMatchesTheGranularityAPI() throws {
        let (quantized, scales) = try quantizeWeightPerChannel(weight)
        let metrics = try calculateQuantizationError(original: weight, quantized: quantized, scale: scales)
        #expect(metrics == quantizationError(original: weight, quantized: try quantizeSymmetric(weight, granularity: .perChannel)))
        // Per column, the dequantized values are [1, -254, 0.5, 127, 4, -63.5]: one error of 1.
        let (columnCodes, columnScales) = try quantizeSymmetric(weight, dimension: 0)
        let columnMetrics = try calculateQuantizationError(
            original: weight, quantized: columnCodes, scale: columnScales, dimension: 1)
        #expect(columnMetrics.maxAbsError == 1)
        #expect(columnMetrics.meanAbsError == Float(1.0 / 6.0))
        // The significant values (|w| > 25.4) are 254, 127 and 63.5, all restored exactly.
        #expect(columnMetrics.relativeErrorPercent == 0)
    }

    @Test func stridedDimensionsMatchScalarReference() throws {
        var generator = SeededGenerator(seed: 11)
        for shape in [[3, 5, 17], [2, 4, 33], [1, 7, 16], [4, 1, 3], [2, 3, 2, 5]] {
            let count = shape.reduce(1, *)
            let storage = (0..<count).map { _ in Float.random(in: -4...4, using: &generator) }
            let tensor = try FloatTensor(shape: shape, storage: storage)
            for dimension in 0..<shape.count {
                let expected = scalarQuantize(storage, shape: shape, dimension: dimension)
                let (quantized, scale) = try quantizeSymmetric(tensor, dimension: dimension)
                #expect(quantized.storage == expected.values, "shape \(shape) dimension \(dimension)")
                #expect(scale.storage == expected.scales, "shape \(shape) dimension \(dimension)")
                var scaleShape = shape
                scaleShape.remove(at: dimension)
                #expect(scale.shape == scaleShape)
            }
        }
    }

    @Test func stridedNonFiniteReportsTheFirstIndex() {
        // Reducing over dimension 0 of [3, 4]: columns hold flat indices 1, 5, 9 and 3, 7, 11.
        var storage = [Float](repeating: 1, count: 12)
        storage[9] = .nan
        storage[3] = .infinity
        let tensor = try! FloatTensor(shape: [3, 4], storage: storage)
        #expect(throws: KernelError.nonFiniteValue(index: 3, value: .infinity)) { try quantizeSymmetric(tensor, dimension: 0) }
    }
}
