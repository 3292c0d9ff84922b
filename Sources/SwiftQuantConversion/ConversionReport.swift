import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantPlan

/// A Float that JSON can hold: finite values as numbers, NaN and ±infinity as `null` (JSON has
/// no literal for them; Specs/swiftquant-checkpoint.md says so for every report).
public struct ReportFloat: Codable, Sendable, Hashable {
    public var value: Float

    public init(_ value: Float) { self.value = value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        value = container.decodeNil() ? .nan : try container.decode(Float.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if value.isFinite { try container.encode(value) } else { try container.encodeNil() }
    }
}

/// What `convert` did with one tensor, as reports list it.
public struct TensorReport: Codable, Sendable, Hashable {
    public var name: String
    /// `quantize` or `keep`.
    public var action: String
    /// The granularity quantized at (`per-channel`, …), for quantized tensors.
    public var granularity: String?
    public var groupSize: Int?
    /// The scheme stored (`symmetric-int8`, `q8_0`), for quantized tensors.
    public var scheme: String?
    /// The scheme as the text summary shows it (`per-channel`, `q8_0`).
    public var schemeLabel: String?
    /// How a kept tensor is stored (`source`, `f16`, …).
    public var keepDType: String?
    public var snrDecibels: ReportFloat?
    public var maxAbsError: ReportFloat?
    public var meanAbsError: ReportFloat?
    public var relativeErrorPercent: ReportFloat?
    /// The rule (or built-in reason) that decided the tensor.
    public var rule: String
    public var note: String?

    public init(_ report: ConvertedTensorReport) {
        name = report.name
        switch report.action {
        case .quantize(let granularity):
            action = "quantize"
            self.granularity = granularity.name
            groupSize = granularity.groupSize
            scheme = report.scheme?.name
            schemeLabel = report.scheme?.description
        case .keep(let dtype):
            action = "keep"
            keepDType = dtype.rawValue
        }
        snrDecibels = report.metrics.map { ReportFloat($0.snrDecibels) }
        maxAbsError = report.metrics.map { ReportFloat($0.maxAbsError) }
        meanAbsError = report.metrics.map { ReportFloat($0.meanAbsError) }
        relativeErrorPercent = report.metrics.map { ReportFloat($0.relativeErrorPercent) }
        rule = report.reason
        note = report.note
    }

    enum CodingKeys: String, CodingKey {
        case name, action, granularity, groupSize = "group_size", scheme, keepDType = "keep_dtype"
        case snrDecibels = "snr_db", maxAbsError = "max_abs_error", meanAbsError = "mean_abs_error"
        case relativeErrorPercent = "relative_error_pct", rule, note
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        action = try container.decode(String.self, forKey: .action)
        granularity = try container.decodeIfPresent(String.self, forKey: .granularity)
        groupSize = try container.decodeIfPresent(Int.self, forKey: .groupSize)
        scheme = try container.decodeIfPresent(String.self, forKey: .scheme)
        keepDType = try container.decodeIfPresent(String.self, forKey: .keepDType)
        snrDecibels = try container.decodeIfPresent(ReportFloat.self, forKey: .snrDecibels)
        maxAbsError = try container.decodeIfPresent(ReportFloat.self, forKey: .maxAbsError)
        meanAbsError = try container.decodeIfPresent(ReportFloat.self, forKey: .meanAbsError)
        relativeErrorPercent = try container.decodeIfPresent(ReportFloat.self, forKey: .relativeErrorPercent)
        rule = try container.decode(String.self, forKey: .rule)
        note = try container.decodeIfPresent(String.self, forKey: .note)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(action, forKey: .action)
        // The fields of the other action are left out, as the reports always did; the metrics
        // and note are present as `null` when absent, so every tensor has them.
        if action == "quantize" {
            try container.encode(granularity, forKey: .granularity)
            try container.encode(groupSize, forKey: .groupSize)
            try container.encode(scheme, forKey: .scheme)
        } else {
            try container.encode(keepDType, forKey: .keepDType)
        }
        try container.encode(snrDecibels, forKey: .snrDecibels)
        try container.encode(maxAbsError, forKey: .maxAbsError)
        try container.encode(meanAbsError, forKey: .meanAbsError)
        try container.encode(relativeErrorPercent, forKey: .relativeErrorPercent)
        try container.encode(rule, forKey: .rule)
        try container.encode(note, forKey: .note)
    }
}

/// The result of ``convert(input:output:options:registry:progress:planned:)``: counts, sizes,
/// time, and every tensor.
public struct ConversionReport: Codable, Sendable, Hashable {
    public var input: String
    public var output: String
    /// The output format's registered name.
    public var format: String
    public var tensors: [TensorReport]
    public var inputBytes: Int
    public var outputBytes: Int
    public var seconds: Double

    public init(input: String, output: String, format: String, tensors: [TensorReport], inputBytes: Int, outputBytes: Int, seconds: Double) {
        self.input = input
        self.output = output
        self.format = format
        self.tensors = tensors
        self.inputBytes = inputBytes
        self.outputBytes = outputBytes
        self.seconds = seconds
    }

    /// The quantized tensors (those with metrics).
    public var quantized: [TensorReport] { tensors.filter { $0.snrDecibels != nil } }
    /// The five quantized tensors with the lowest SNR, lowest first.
    public var worst: [TensorReport] {
        Array(quantized.sorted { $0.snrDecibels!.value < $1.snrDecibels!.value }.prefix(5))
    }
    /// Output bytes over input bytes (0 for an empty input).
    public var ratio: Double { inputBytes > 0 ? Double(outputBytes) / Double(inputBytes) : 0 }

    struct Worst: Codable {
        var name: String
        var snrDecibels: ReportFloat?
        enum CodingKeys: String, CodingKey { case name, snrDecibels = "snr_db" }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(snrDecibels, forKey: .snrDecibels)
        }
    }

    enum CodingKeys: String, CodingKey {
        case input, output, format, tensors, inputBytes = "input_bytes", outputBytes = "output_bytes", seconds
        case tensorsQuantized = "tensors_quantized", tensorsKept = "tensors_kept", ratio, worstSNR = "worst_snr"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        input = try container.decode(String.self, forKey: .input)
        output = try container.decode(String.self, forKey: .output)
        format = try container.decode(String.self, forKey: .format)
        tensors = try container.decode([TensorReport].self, forKey: .tensors)
        inputBytes = try container.decode(Int.self, forKey: .inputBytes)
        outputBytes = try container.decode(Int.self, forKey: .outputBytes)
        seconds = try container.decode(Double.self, forKey: .seconds)
    }

    /// The stored fields plus the derived ones a reader of the JSON wants without computing:
    /// `tensors_quantized`, `tensors_kept`, `ratio` and `worst_snr`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(input, forKey: .input)
        try container.encode(output, forKey: .output)
        try container.encode(format, forKey: .format)
        try container.encode(quantized.count, forKey: .tensorsQuantized)
        try container.encode(tensors.count - quantized.count, forKey: .tensorsKept)
        try container.encode(inputBytes, forKey: .inputBytes)
        try container.encode(outputBytes, forKey: .outputBytes)
        try container.encode(ratio, forKey: .ratio)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(worst.map { Worst(name: $0.name, snrDecibels: $0.snrDecibels) }, forKey: .worstSNR)
        try container.encode(tensors, forKey: .tensors)
    }
}
