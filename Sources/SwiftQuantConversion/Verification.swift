import Foundation
import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantCheckpoint

/// One tensor of a ``VerificationReport``.
public struct VerifiedTensor: Codable, Sendable, Equatable {
    public var name: String
    /// `I8 per-channel`, … for quantized tensors, else the stored dtype.
    public var stored: String
    /// Why the tensor failed (a checksum, a shape that differs from the source, …), or `nil`.
    public var problem: String?
    /// The error against the source, for quantized tensors verified against one.
    public var metrics: QuantizationErrorMetrics?
    /// For a kept tensor stored in another float type than the source's: how far it is.
    public var note: String?

    public var ok: Bool { problem == nil }

    public init(name: String, stored: String, problem: String? = nil, metrics: QuantizationErrorMetrics? = nil, note: String? = nil) {
        self.name = name
        self.stored = stored
        self.problem = problem
        self.metrics = metrics
        self.note = note
    }

    enum CodingKeys: String, CodingKey {
        case name, stored, ok, problem, note
        case maxAbsError = "max_abs_error", meanAbsError = "mean_abs_error"
        case relativeErrorPercent = "relative_error_pct", snrDecibels = "snr_db"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        stored = try container.decode(String.self, forKey: .stored)
        problem = try container.decodeIfPresent(String.self, forKey: .problem)
        note = try container.decodeIfPresent(String.self, forKey: .note)
        if let maxAbs = try container.decodeIfPresent(ReportFloat.self, forKey: .maxAbsError),
           let meanAbs = try container.decodeIfPresent(ReportFloat.self, forKey: .meanAbsError),
           let relative = try container.decodeIfPresent(ReportFloat.self, forKey: .relativeErrorPercent),
           let snr = try container.decodeIfPresent(ReportFloat.self, forKey: .snrDecibels)
        {
            metrics = QuantizationErrorMetrics(
                maxAbsError: maxAbs.value, meanAbsError: meanAbs.value, relativeErrorPercent: relative.value,
                snrDecibels: snr.value)
        }
    }

    /// The metrics keys are written (as `null` when not measured) only by a report made
    /// against a source, as the command line always did; see ``VerificationReport``.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(stored, forKey: .stored)
        try container.encode(ok, forKey: .ok)
        try container.encode(problem, forKey: .problem)
        if encoder.userInfo[VerificationReport.measuredKey] as? Bool == true {
            try container.encode(metrics.map { ReportFloat($0.maxAbsError) }, forKey: .maxAbsError)
            try container.encode(metrics.map { ReportFloat($0.meanAbsError) }, forKey: .meanAbsError)
            try container.encode(metrics.map { ReportFloat($0.relativeErrorPercent) }, forKey: .relativeErrorPercent)
            try container.encode(metrics.map { ReportFloat($0.snrDecibels) }, forKey: .snrDecibels)
        }
    }
}

/// What `verify(checkpoint:against:progress:)` found: every tensor, checked.
public struct VerificationReport: Codable, Sendable, Equatable {
    public var checkpoint: String
    /// The source it was measured against, or `nil` for checksums only.
    public var against: String?
    /// The arithmetic the metrics were computed with, as the checkpoint records it.
    public var arithmetic: Arithmetic
    public var tensors: [VerifiedTensor]

    public var ok: Bool { tensors.allSatisfy(\.ok) }
    public var failures: [VerifiedTensor] { tensors.filter { !$0.ok } }

    static let measuredKey = CodingUserInfoKey(rawValue: "swiftquant.verify.measured")!

    enum CodingKeys: String, CodingKey { case checkpoint, against, arithmetic, ok, tensors }

    public init(checkpoint: String, against: String?, arithmetic: Arithmetic, tensors: [VerifiedTensor]) {
        self.checkpoint = checkpoint
        self.against = against
        self.arithmetic = arithmetic
        self.tensors = tensors
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        checkpoint = try container.decode(String.self, forKey: .checkpoint)
        against = try container.decodeIfPresent(String.self, forKey: .against)
        arithmetic = try container.decodeIfPresent(String.self, forKey: .arithmetic).flatMap(Arithmetic.init) ?? .float32
        tensors = try container.decode([VerifiedTensor].self, forKey: .tensors)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(checkpoint, forKey: .checkpoint)
        try container.encode(ok, forKey: .ok)
        if let against {
            try container.encode(against, forKey: .against)
            try container.encode(arithmetic.rawValue, forKey: .arithmetic)
        }
        try container.encode(tensors, forKey: .tensors)
    }

    /// A JSON encoder for this report: tensors carry metrics keys when measured against a source.
    public func encoder(pretty: Bool) -> JSONEncoder {
        let encoder = JSONEncoder.report(pretty: pretty)
        encoder.userInfo[Self.measuredKey] = against != nil
        return encoder
    }
}

/// Checks every checksum of the SwiftQuant checkpoint at `checkpoint` and decodes every chunk;
/// with `source`, measures each quantized tensor against the source's weights and requires
/// each kept tensor to equal the source's.
///
/// A tensor that fails is reported with its problem and the check goes on, so the report
/// lists every damaged tensor; the call throws only when the files cannot be opened.
/// Metrics use the arithmetic the checkpoint records in `swiftquant.arithmetic` (Float32 when
/// absent), so `verify` reproduces what `convert` measured.
public func verify(
    checkpoint: String, against source: String? = nil, registry: FormatRegistry = .standard,
    progress: (ConversionProgress) -> Void = { _ in }
) throws -> VerificationReport {
    let file = try CheckpointFile(path: checkpoint)
    let original = try source.map { try registry.openTensorSource(at: $0) }
    var arithmetic = Arithmetic.float32
    if case .string(let recorded)? = file.metadata[Converter.arithmeticKey], let known = Arithmetic(rawValue: recorded) {
        arithmetic = known
    }
    var tensors: [VerifiedTensor] = []
    let totalBytes = file.entries.reduce(0) { $0 + $1.values.rawLength }
    var doneBytes = 0
    for (index, entry) in file.entries.enumerated() {
        var row = VerifiedTensor(
            name: entry.name, stored: entry.quantization.map { "I8 " + $0.description } ?? entry.dtype.rawValue)
        do {
            try file.verify(tensorNamed: entry.name)
            if let original { try compare(entry, file: file, source: original, arithmetic: arithmetic, into: &row) }
        } catch {
            row.problem = "\(error)"
        }
        tensors.append(row)
        original?.releasePages(for: entry.name)
        doneBytes += entry.values.rawLength
        progress(ConversionProgress(
            tensorsDone: index + 1, tensorCount: file.entries.count, bytesDone: doneBytes, totalBytes: totalBytes,
            lastTensor: entry.name))
    }
    return VerificationReport(checkpoint: checkpoint, against: source, arithmetic: arithmetic, tensors: tensors)
}

/// Measures a quantized tensor against the source's weights; a kept one must be identical.
private func compare(
    _ entry: CheckpointEntry, file: CheckpointFile, source: any TensorSource, arithmetic: Arithmetic,
    into row: inout VerifiedTensor
) throws {
    guard let info = source.info(for: entry.name) else {
        throw VerificationError.missingInSource(tensor: entry.name, source: source.path)
    }
    guard info.shape == entry.shape else {
        throw VerificationError.shapeDiffers(tensor: entry.name, checkpoint: entry.shape, source: info.shape)
    }
    if let weight = try file.quantizedWeight(for: entry.name) {
        if arithmetic == .reference, let encoding = info.dtype.floatEncoding {
            // Measured in the source's dtype, as convert measured it.
            let data = try source.data(for: entry.name)
            row.metrics = data.shared.withUnsafeBytes {
                weight.scheme.scheme(arithmetic: arithmetic).errorMetrics(of: weight, encoded: $0, encoding: encoding)
            }
        } else {
            let weights = try FloatTensor(shape: info.shape, storage: try source.floats(for: entry.name))
            row.metrics = quantizationError(original: weights, quantized: weight)
        }
    } else if entry.dtype == info.dtype {
        let stored = try file.data(for: entry.name), original = try source.data(for: entry.name)
        // The bytes are views owned by the TensorData values: keep both alive while comparing.
        let identical = withExtendedLifetime((stored, original)) { stored.bytes.elementsEqual(original.bytes) }
        guard identical else { throw VerificationError.keptDiffers(tensor: entry.name) }
    } else {
        // Kept in another float type: exact within that type's rounding is all one can ask.
        let stored = try file.floats(for: entry.name), original = try source.floats(for: entry.name)
        var maxError: Float = 0
        for (a, b) in zip(stored, original) { maxError = max(maxError, abs(a - b)) }
        row.note = "kept as \(entry.dtype.rawValue) from \(info.dtype.rawValue), max abs difference \(maxError)"
    }
}

/// Why a checkpoint does not match the source it is verified against.
public enum VerificationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Verification found `count` failing tensors; `first` is the first one's problem.
    case failed(count: Int, first: String)
    case missingInSource(tensor: String, source: String)
    case shapeDiffers(tensor: String, checkpoint: [Int], source: [Int])
    case keptDiffers(tensor: String)

    public var description: String {
        switch self {
        case .failed(let count, let first):
            "\(count) tensor\(count == 1 ? "" : "s") failed verification; first: \(first)"
        case .missingInSource(let tensor, let source):
            "tensor '\(printableInMessage(tensor))' is not in \(source); is it the checkpoint's source?"
        case .shapeDiffers(let tensor, let checkpoint, let source):
            "tensor '\(printableInMessage(tensor))' has shape \(checkpoint) in the checkpoint but \(source) in the source; is it the checkpoint's source?"
        case .keptDiffers(let tensor):
            "kept tensor '\(printableInMessage(tensor))' differs from the source"
        }
    }
}
