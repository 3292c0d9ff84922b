import SwiftQuant

/// `QuantizedLinear` against the Float32 `Linear` of the same shape, timed round-robin in the
/// same run. The targets are relative to numpy's fp32 matmul (OpenBLAS), which
/// `Tests/Interop/bench_linear_vs_numpy.py` measures beside these cases: batch 1 at most
/// 0.4× numpy's time (the weights are a quarter of the bytes), batch 32 at most 2×.
extension BenchCase {
    static let linearShape = (outFeatures: 8192, inFeatures: 8192)

    static let linearCases: [BenchCase] = [
        int8LinearCase(batch: 1, granularity: .perChannel, name: "linear-int8-8192x8192-b1"),
        int8LinearCase(batch: 32, granularity: .perChannel, name: "linear-int8-8192x8192-b32"),
        int8LinearCase(batch: 1, granularity: .perGroup(size: 128), name: "linear-int8-g128-8192x8192-b1"),
        int8LinearCase(batch: 32, granularity: .perGroup(size: 128), name: "linear-int8-g128-8192x8192-b32"),
        // Groups of 32: the layout of GGUF Q8_0 weights.
        int8LinearCase(batch: 1, granularity: .perGroup(size: 32), name: "linear-int8-g32-8192x8192-b1"),
        int8LinearCase(batch: 32, granularity: .perGroup(size: 32), name: "linear-int8-g32-8192x8192-b32"),
        floatLinearCase(batch: 1, name: "linear-fp32-8192x8192-b1"),
        floatLinearCase(batch: 32, name: "linear-fp32-8192x8192-b32"),
        w8a8LinearCase(batch: 1, name: "linear-w8a8-8192x8192-b1"),
        w8a8LinearCase(batch: 32, name: "linear-w8a8-8192x8192-b32"),
        BenchCase(
            name: "read-bandwidth",
            summary: "Streaming read of 64 MiB on the kernel threads: the memory limit batch-1 products are measured against, GB/s."
        ) { context in
            let byteCount = 64 << 20
            let buffer = OwnedBytes.benchBuffer(byteCount: byteCount)
            var checksum: UInt64 = 0
            let seconds = context.median { checksum ^= streamingReadChecksum(buffer.bytes) }
            return BenchResult(medianSeconds: seconds, fields: [
                ("bytes", .integer(byteCount)),
                ("gb_per_s", .number(gigabytesPerSecond(byteCount, seconds))),
                ("threads", .integer(Parallelism.threads)),
                ("checksum", .integer(Int(truncatingIfNeeded: checksum))),
            ])
        },
    ]

    /// A QuantizedLinear forward pass, with the fp32 `Linear` of the same weights as baseline.
    static func int8LinearCase(batch: Int, granularity: Granularity, name: String) -> BenchCase {
        let (outFeatures, inFeatures) = linearShape
        return BenchCase(
            name: name,
            summary: "QuantizedLinear \(granularity) \(outFeatures)×\(inFeatures), batch \(batch): time, weight GB/s, GFLOP/s, ratio to fp32 Linear."
        ) { context in
            let float = try benchLinear(outFeatures: outFeatures, inFeatures: inFeatures)
            let int8 = try QuantizedLinear.fromLinear(float, granularity: granularity)
            let input = benchInput(batch: batch, inFeatures: inFeatures)
            let weightBytes = outFeatures * inFeatures + 4 * int8.scales.count
            var sink: Float = 0
            var bodies = [
                { sink += (try? int8(input))?.storage[0] ?? 0 },
                { sink += (try? float(input))?.storage[0] ?? 0 },
            ]
            // Batch 1 streams its weights once: compare with a plain read of as many bytes.
            let readBuffer = batch == 1 ? OwnedBytes.benchBuffer(byteCount: weightBytes) : nil
            var readChecksum: UInt64 = 0
            if let readBuffer {
                bodies.append { readChecksum ^= streamingReadChecksum(readBuffer.bytes) }
            }
            let times = context.medians(bodies)
            let (int8Seconds, floatSeconds) = (times[0], times[1])
            var fields = linearFields(
                batch: batch, outFeatures: outFeatures, inFeatures: inFeatures, seconds: int8Seconds,
                weightBytes: weightBytes
            ) + [
                ("fp32_median_seconds", .number(floatSeconds)),
                ("ratio_to_fp32", .number(int8Seconds / floatSeconds)),
                ("granularity", .text(granularity.description)),
                ("checksum", .number(Double(sink))),
            ]
            if readBuffer != nil {
                fields += [
                    ("read_gb_per_s", .number(gigabytesPerSecond(weightBytes, times[2]))),
                    ("ratio_to_read_bandwidth", .number(times[2] / int8Seconds)),
                ]
            }
            withExtendedLifetime(readChecksum) {}
            return BenchResult(medianSeconds: int8Seconds, fields: fields)
        }
    }

    /// QuantizedLinear per channel with int8 activations (W8A8), against the fp32 `Linear` and
    /// the weight-only int8 layer of the same weights, round-robin in one run.
    static func w8a8LinearCase(batch: Int, name: String) -> BenchCase {
        let (outFeatures, inFeatures) = linearShape
        return BenchCase(
            name: name,
            summary: "QuantizedLinear W8A8 (int8 activations per row) \(outFeatures)×\(inFeatures), batch \(batch): ratio to fp32 Linear and to weight-only int8."
        ) { context in
            let float = try benchLinear(outFeatures: outFeatures, inFeatures: inFeatures)
            let weightOnly = try QuantizedLinear.fromLinear(float, granularity: .perChannel)
            var w8a8 = weightOnly
            w8a8.quantizesActivations = true
            let input = benchInput(batch: batch, inFeatures: inFeatures)
            var sink: Float = 0
            let times = context.medians([
                { sink += (try? w8a8(input))?.storage[0] ?? 0 },
                { sink += (try? float(input))?.storage[0] ?? 0 },
                { sink += (try? weightOnly(input))?.storage[0] ?? 0 },
            ])
            let reference = try float(input).storage, result = try w8a8(input).storage
            let cosine = cosineSimilarity(result, reference)
            return BenchResult(medianSeconds: times[0], fields: linearFields(
                batch: batch, outFeatures: outFeatures, inFeatures: inFeatures, seconds: times[0],
                weightBytes: outFeatures * inFeatures + 4 * outFeatures
            ) + [
                ("fp32_median_seconds", .number(times[1])),
                ("ratio_to_fp32", .number(times[0] / times[1])),
                ("int8_weight_only_median_seconds", .number(times[2])),
                ("ratio_to_int8_weight_only", .number(times[0] / times[2])),
                ("cosine_to_fp32", .number(cosine)),
                ("checksum", .number(Double(sink))),
            ])
        }
    }

    /// The fp32 `Linear` alone, the baseline numpy is compared with.
    static func floatLinearCase(batch: Int, name: String) -> BenchCase {
        let (outFeatures, inFeatures) = linearShape
        return BenchCase(
            name: name,
            summary: "Linear (fp32) \(outFeatures)×\(inFeatures), batch \(batch): time, weight GB/s, GFLOP/s."
        ) { context in
            let float = try benchLinear(outFeatures: outFeatures, inFeatures: inFeatures)
            let input = benchInput(batch: batch, inFeatures: inFeatures)
            var sink: Float = 0
            let seconds = context.median { sink += (try? float(input))?.storage[0] ?? 0 }
            return BenchResult(medianSeconds: seconds, fields: linearFields(
                batch: batch, outFeatures: outFeatures, inFeatures: inFeatures, seconds: seconds,
                weightBytes: 4 * outFeatures * inFeatures
            ) + [("checksum", .number(Double(sink)))])
        }
    }

    static func linearFields(
        batch: Int, outFeatures: Int, inFeatures: Int, seconds: Double, weightBytes: Int
    ) -> [(key: String, value: BenchValue)] {
        [
            ("shape", .text("\(outFeatures)x\(inFeatures)")),
            ("batch", .integer(batch)),
            ("weight_bytes", .integer(weightBytes)),
            ("weight_gb_per_s", .number(gigabytesPerSecond(weightBytes, seconds))),
            ("gflop_per_s", .number(2 * Double(batch * outFeatures * inFeatures) / seconds / 1e9)),
            ("threads", .integer(Parallelism.threads)),
        ]
    }

    /// A float layer with deterministic weights of realistic magnitude and a bias.
    static func benchLinear(outFeatures: Int, inFeatures: Int) throws -> Linear {
        var random = BenchWeights()
        var weight = [Float](repeating: 0, count: outFeatures * inFeatures)
        for i in weight.indices { weight[i] = random.next() }
        let bias = (0..<outFeatures).map { _ in random.next() }
        return try Linear(weight: FloatTensor(shape: [outFeatures, inFeatures], storage: weight), bias: bias)
    }

    static func benchInput(batch: Int, inFeatures: Int) -> FloatTensor {
        var random = BenchWeights(seed: 0xD1B5_4A32_D192_ED03)
        let values = (0..<batch * inFeatures).map { _ in random.next(amplitude: 1) }
        return FloatTensor(uncheckedShape: [batch, inFeatures], storage: values)
    }
}
