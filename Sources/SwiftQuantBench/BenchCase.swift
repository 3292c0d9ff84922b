import Foundation
import SwiftQuant

/// One named benchmark of `swiftquant bench`.
///
/// A case prepares its inputs, times its kernel with ``BenchContext/median(_:)`` (or
/// ``BenchContext/medians(_:_:)`` to interleave a baseline such as memcpy), and returns a
/// ``BenchResult``. Cases live in `Bench/*BenchCases.swift`, one file per group, each
/// exposing a static array that ``BenchCase/all`` concatenates.
package struct BenchCase: Sendable {
    /// The name used on the command line and in JSON, e.g. `quantize-fp16-per-channel`.
    package let name: String
    /// One line for `--list`.
    package let summary: String
    package let run: @Sendable (BenchContext) throws -> BenchResult
}

/// What a case reports: the median time of its kernel plus case-specific fields, in order.
package struct BenchResult {
    package var medianSeconds: Double
    package var fields: [(key: String, value: BenchValue)] = []
}

/// A JSON-printable field value.
package enum BenchValue: Encodable {
    case number(Double)
    case integer(Int)
    case text(String)

    /// Numbers as JSON numbers (non-finite ones as `null`, which JSON has no literal for).
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let value): if value.isFinite { try container.encode(value) } else { try container.encodeNil() }
        case .integer(let value): try container.encode(value)
        case .text(let value): try container.encode(value)
        }
    }

    package var display: String {
        switch self {
        case .number(let value): String(format: value.magnitude >= 100 ? "%.1f" : "%.3g", value)
        case .integer(let value): "\(value)"
        case .text(let value): value
        }
    }
}

/// Timing settings shared by every case of one run.
package struct BenchContext: Sendable {
    /// Timed repetitions per measurement (after one untimed warm-up).
    package let repetitions: Int
    /// The folder holding the models the model cases load (`all-MiniLM-L6-v2/…`); `nil` finds
    /// it by the tests' rule from the current directory (see ``BenchContext/modelFolder(_:)``).
    package let modelsFolder: String?

    package init(repetitions: Int, modelsFolder: String? = nil) {
        self.repetitions = repetitions
        self.modelsFolder = modelsFolder
    }

    /// The median wall time of `body` in seconds.
    package func median(_ body: () -> Void) -> Double {
        body()
        return Self.median((0..<repetitions).map { _ in Self.seconds(body) })
    }

    /// Median wall times of `first` and `second`, run round-robin so that machine noise
    /// (other processes, frequency changes) hits both alike; a baseline measured this way
    /// gives a fair ratio.
    package func medians(_ first: () -> Void, _ second: () -> Void) -> (first: Double, second: Double) {
        first()
        second()
        var firstTimes: [Double] = [], secondTimes: [Double] = []
        for _ in 0..<repetitions {
            firstTimes.append(Self.seconds(first))
            secondTimes.append(Self.seconds(second))
        }
        return (Self.median(firstTimes), Self.median(secondTimes))
    }

    /// Median wall times of several bodies run round-robin, in the order given (see
    /// ``medians(_:_:)``).
    package func medians(_ bodies: [() -> Void]) -> [Double] {
        for body in bodies { body() }
        var times = [[Double]](repeating: [], count: bodies.count)
        for _ in 0..<repetitions {
            for (index, body) in bodies.enumerated() { times[index].append(Self.seconds(body)) }
        }
        return times.map(Self.median)
    }

    private static func seconds(_ body: () -> Void) -> Double {
        let elapsed = ContinuousClock().measure(body)
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    private static func median(_ times: [Double]) -> Double {
        let sorted = times.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}

extension OwnedBytes {
    /// A page-aligned, zeroed buffer for benchmark inputs and outputs: every page is touched
    /// now so that page faults are not timed.
    package static func benchBuffer(byteCount: Int) -> OwnedBytes {
        let buffer = OwnedBytes(allocating: byteCount, alignment: 4096)!
        buffer.mutableBytes.initializeMemory(as: UInt8.self, repeating: 0)
        return buffer
    }

    package func typed<T>(_ type: T.Type, count: Int) -> UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: pointer.assumingMemoryBound(to: T.self), count: count)
    }
}

/// Deterministic pseudo-random weights (xorshift), roughly uniform in ±`amplitude`.
package struct BenchWeights {
    private var state: UInt64

    package init(seed: UInt64 = 0x9E37_79B9_7F4A_7C15) { state = seed }

    package mutating func next(amplitude: Float = 0.05) -> Float {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * amplitude
    }
}

extension BenchResult {
    /// A throughput result: `kernel` and a memcpy of the same `inputBytes` timed round-robin
    /// in this run, reported as GB/s of input and as a ratio to memcpy. With `baseline` (the
    /// Swift SIMD code the C kernels replaced), that runs in the same rotation and the result
    /// adds its GB/s and `speedup_vs_swift_simd` (baseline time / kernel time).
    package static func comparedToMemcpy(
        _ context: BenchContext, input: OwnedBytes, inputBytes: Int, shape: [Int],
        extra: [(key: String, value: BenchValue)] = [], baseline: (() -> Void)? = nil, kernel: () -> Void
    ) -> BenchResult {
        let destination = OwnedBytes.benchBuffer(byteCount: inputBytes)
        let source = UnsafeRawPointer(input.pointer)
        let copy = { destination.pointer.copyMemory(from: source, byteCount: inputBytes) }
        let times = withoutActuallyEscaping(kernel) { kernel in
            context.medians([kernel, copy] + (baseline.map { [$0] } ?? []))
        }
        let (kernelSeconds, memcpySeconds) = (times[0], times[1])
        var fields: [(key: String, value: BenchValue)] = [
            ("shape", .text(shape.map(String.init).joined(separator: "x"))),
            ("input_bytes", .integer(inputBytes)),
            ("gb_per_s", .number(gigabytesPerSecond(inputBytes, kernelSeconds))),
            ("memcpy_gb_per_s", .number(gigabytesPerSecond(inputBytes, memcpySeconds))),
            ("ratio_to_memcpy", .number(memcpySeconds / kernelSeconds)),
        ]
        if times.count > 2 {
            fields.append(("swift_simd_gb_per_s", .number(gigabytesPerSecond(inputBytes, times[2]))))
            fields.append(("speedup_vs_swift_simd", .number(times[2] / kernelSeconds)))
        }
        fields.append(("threads", .integer(Parallelism.threads)))
        return BenchResult(medianSeconds: kernelSeconds, fields: fields + extra)
    }
}

/// `bytes` per second in GB/s (10⁹ bytes).
package func gigabytesPerSecond(_ bytes: Int, _ seconds: Double) -> Double {
    Double(bytes) / seconds / 1e9
}
