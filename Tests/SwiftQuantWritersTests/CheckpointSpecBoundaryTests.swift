import Foundation
import Testing
@testable import SwiftQuantCore
@testable import SwiftQuantKernels
@testable import SwiftQuantCheckpoint

/// The boundaries `Specs/swiftquant-checkpoint.md` states, each checked on both sides.
@Suite struct CheckpointSpecBoundaryTests {
    let folder = temporaryFolder()

    /// `levels` arrays, each the only element of the one around it, around a bool.
    func nestedArrays(_ levels: Int) -> MetadataValue {
        (0..<levels).reduce(MetadataValue.bool(true)) { inner, _ in .array([inner]) }
    }

    @Test func metadataArraysNestSixteenLevelsButNotSeventeen() throws {
        let deepest = nestedArrays(CheckpointFormat.maximumNesting)
        let path = try writeCheckpoint([.keptFloats("t", [4])], to: folder + "/16.swq", metadata: ["deep": deepest])
        #expect(try CheckpointFile(path: path).metadata["deep"] == deepest)

        let tooDeep = try writeCheckpoint([.keptFloats("t", [4])], to: folder + "/17.swq", metadata: ["deep": nestedArrays(17)])
        #expect {
            try CheckpointFile(path: tooDeep)
        } throws: { error in
            guard case .malformedHeader(_, _, let reason)? = error as? CheckpointError else { return false }
            return reason.contains("nest deeper than 16")
        }
    }

    @Test func blockTypesAreNotStoredAsDType() throws {
        // The writer refuses a kept Q8_0 tensor up front…
        let output = try AtomicOutputFile(destination: folder + "/q8.swq", force: true)
        let writer = CheckpointWriter(output: output)
        let q8 = TensorInfo(name: "q", dtype: .q8_0, shape: [32], byteCount: 34)
        try writer.begin(tensors: [q8], metadata: [:])
        #expect(throws: CheckpointWriterError.blockTypeNotStorable(tensor: "q", dtype: .q8_0)) {
            try [UInt8](repeating: 0, count: 34).withUnsafeBytes { bytes in
                try writer.write(ConvertedTensor(name: "q", shape: [32], sourceDType: .q8_0, content: .kept(dtype: .q8_0, bytes: bytes)))
            }
        }

        // …and the reader refuses a file whose dtype spells one (BF16 patched to Q8_0, resealed).
        let bf16 = [UInt16](repeating: 0x3F80, count: 64).withUnsafeBytes { Array($0) }
        var bytes = fileBytes(try writeCheckpoint([.kept("n", [64], .bf16, bytes: bf16)], to: folder + "/bf16.swq"))
        let spelling = Array("BF16".utf8)
        let headerEnd = 64 + Int(bytes[16..<24].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let at = try #require((64..<headerEnd - 4).first { Array(bytes[$0..<$0 + 4]) == spelling })
        bytes.replaceSubrange(at..<at + 4, with: Array("Q8_0".utf8))
        resealHeader(&bytes)
        let patched = folder + "/patched.swq"
        writeBytes(bytes, to: patched)
        #expect {
            try CheckpointFile(path: patched)
        } throws: { error in
            guard case .malformedEntry(_, "n", at - 4, let reason)? = error as? CheckpointError else { return false }  // the string's length field
            return reason.contains("ggml block type")
        }
    }

    @Test func anEmptyLastSegmentSitsAtTheFileEnd() throws {
        let path = try writeCheckpoint([.keptFloats("a", [100]), .kept("empty", [0, 5], .f32, bytes: [])], to: folder + "/empty.swq")
        let checkpoint = try CheckpointFile(path: path)
        let empty = try checkpoint.entry(named: "empty").values
        #expect(empty.rawLength == 0 && empty.storedLength == 0 && empty.chunks.isEmpty)
        #expect(empty.offset == fileBytes(path).count && empty.offset % checkpoint.alignment == 0)
        #expect(try checkpoint.data(for: "empty").bytes.isEmpty)
    }

    /// snr_db = 10·log10(mean(w²) / (mean(e²) + 1e-10)) in IEEE arithmetic: a signal that is
    /// zero in Float32 (all zeros, or subnormals whose squares underflow) gives log10(0) = -inf,
    /// which is stored as is and read back as a recorded metric.
    @Test func zeroSignalStoresMinusInfinitySNR() throws {
        let tensors = try [
            FixtureTensor.quantized("zeros", [2, 32], .perChannel).with(weights: [Float](repeating: 0, count: 64)),
            FixtureTensor.quantized("subnormal", [2, 32], .perChannel).with(weights: [Float](repeating: 1e-40, count: 64)),
        ]
        let checkpoint = try CheckpointFile(path: try writeCheckpoint(tensors, to: folder + "/snr.swq"))
        for name in ["zeros", "subnormal"] {
            let metrics = try #require(try checkpoint.entry(named: name).metrics, "\(name)")
            #expect(metrics.snrDecibels == -Float.infinity, "\(name)")
        }
    }
}

extension FixtureTensor {
    /// The same tensor quantized from other weights.
    func with(weights: [Float]) throws -> FixtureTensor {
        let quantized = try quantizeSymmetric(FloatTensor(shape: shape, storage: weights), granularity: self.quantized!.granularity)
        return FixtureTensor(name: name, shape: shape, sourceDType: sourceDType, quantized: quantized, weights: weights, keptDType: nil, keptBytes: [])
    }
}
