import Foundation
import Synchronization
import Testing
@testable import SwiftQuantCore
@testable import SwiftQuantKernels
@testable import SwiftQuantCheckpoint
@testable import SwiftQuantPlan
@testable import SwiftQuantConversion

/// The thread count is a task-local: bound per call, seen by every worker the kernels and the
/// converter start, and never shared between concurrent tasks.
@Suite("Parallelism: the thread count as a task-local")
struct ParallelismTests {
    /// The thread counts seen from wherever `record` was called.
    private final class SeenCounts: Sendable {
        private let counts = Mutex<[Int]>([])
        func record() { counts.withLock { $0.append(Parallelism.threads) } }
        var all: [Int] { counts.withLock { $0 } }
    }

    /// A source of F32 tensors that records the thread count each time it is read: the
    /// converter reads sources on its producer thread.
    private struct RecordingSource: TensorSource {
        let seen: SeenCounts
        var path = "recording.safetensors"
        var formatName = "safetensors"
        var metadata: [String: MetadataValue] = [:]
        let storage: [String: OwnedBytes]
        let tensors: [TensorInfo]

        init(seen: SeenCounts, count: Int) {
            self.seen = seen
            var tensors: [TensorInfo] = []
            var storage: [String: OwnedBytes] = [:]
            for index in 0..<count {
                let values = (0..<(64 * 64)).map { Float(($0 * 7 + index) % 97) / 97 - 0.5 }
                let name = "layer.\(index).weight"
                tensors.append(TensorInfo(name: name, dtype: .f32, shape: [64, 64], byteCount: values.count * 4))
                storage[name] = values.withUnsafeBytes { OwnedBytes(copying: $0) }
            }
            self.tensors = tensors
            self.storage = storage
        }

        func data(for name: String) throws -> TensorData {
            seen.record()
            guard let info = info(for: name), let owned = storage[name] else {
                throw TensorSourceError.noSuchTensor(path: path, name: name)
            }
            return TensorData(info: info, bytes: owned.bytes, owner: owned)
        }

        func floats(for name: String) throws -> [Float] {
            let data = try data(for: name)
            return withExtendedLifetime(data) { Array(data.bytes.bindMemory(to: Float.self)) }
        }
    }

    @Test("withThreads binds a count for its body only; nil keeps the current one; below 1 is 1")
    func binding() {
        #expect(Parallelism.threads == Parallelism.activeCores)
        Parallelism.withThreads(3) {
            #expect(Parallelism.threads == 3)
            Parallelism.withThreads(nil) { #expect(Parallelism.threads == 3) }
            Parallelism.withThreads(0) { #expect(Parallelism.threads == 1) }
            #expect(Parallelism.threads == 3)
        }
        #expect(Parallelism.threads == Parallelism.activeCores)
    }

    @Test("Workers of performConcurrently see the caller's count", arguments: [1, 3, 5])
    func concurrentWorkers(threads: Int) {
        let seen = SeenCounts()
        Parallelism.withThreads(threads) {
            performConcurrently(iterations: 16) { _ in seen.record() }
        }
        #expect(seen.all.count == 16)
        #expect(seen.all.allSatisfy { $0 == threads })
    }

    @Test("Concurrent tasks keep their own counts")
    func concurrentTasks() async {
        let seen = [SeenCounts(), SeenCounts()]
        await withTaskGroup(of: Void.self) { group in
            for (index, counts) in seen.enumerated() {
                group.addTask {
                    Parallelism.withThreads(index + 2) {
                        for _ in 0..<50 { performConcurrently(iterations: 4) { _ in counts.record() } }
                    }
                }
            }
        }
        #expect(seen[0].all.count == 200 && seen[0].all.allSatisfy { $0 == 2 })
        #expect(seen[1].all.count == 200 && seen[1].all.allSatisfy { $0 == 3 })
    }

    @Test("The converter's producer thread reads with the caller's count")
    func converterProducerThread() throws {
        let seen = SeenCounts()
        let source = RecordingSource(seen: seen, count: 4)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftquant-parallelism-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = try AtomicOutputFile(destination: folder + "/model.swq", force: true)
        let writer = CheckpointWriter(output: output, options: .init())
        let plan = QuantizationPlan(tensors: source.tensors)
        let threads = Parallelism.activeCores + 3
        _ = try Parallelism.withThreads(threads) {
            try Converter(source: source, decisions: plan.decisions, sink: writer, metadata: [:]).run()
        }
        try output.commit()
        #expect(seen.all.count >= source.tensors.count)
        #expect(seen.all.allSatisfy { $0 == threads })
    }
}
