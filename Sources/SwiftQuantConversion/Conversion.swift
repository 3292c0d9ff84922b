import Foundation
import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantPlan
import SwiftQuantModelFolder

/// Converts the checkpoint at `input` to `output`: what `swiftquant convert` does, as one call.
///
/// The input is opened by content through `registry`; the plan decides every tensor with
/// `options.rules`; the plan is adapted to what the output format stores before anything is
/// written; tensors stream through the ``Converter`` into a temporary output that is moved
/// into place only when complete (and removed on any error).
///
/// - Parameters:
///   - progress: called after each tensor, on the calling thread (a trailing closure is this).
///   - planned: called with the plan once the output is set up, before any tensor is converted (the command line warns
///     about rules that decided no tensor here).
/// - Returns: what happened to each tensor, the sizes and the time taken.
public func convert(
    input: String, output: String, options: ConversionOptions = ConversionOptions(),
    registry: FormatRegistry = .standard,
    progress: (ConversionProgress) -> Void = { _ in },
    planned: (QuantizationPlan) -> Void = { _ in }
) throws -> ConversionReport {
    let started = Date()
    let opened = try registry.openTensorSource(at: input)
    let format = try registry.outputFormat(named: options.format, forPath: output)
    var request = OutputRequest(destination: output, force: options.force, input: input, source: opened, options: options)
    // The input as the format writes it (a Hugging Face folder → GGUF names and metadata).
    let source = try format.view(request)
    request.source = source
    // For GGUF the plan already keeps what llama.cpp never quantizes, so the report and
    // swiftquant.rules name the reason.
    let plan = QuantizationPlan(tensors: source.tensors, config: options.rules, target: try format.planTarget(request))
    // Only once the output could be set up: a refused output (no config.json for a model
    // folder, an existing file without force) stays one line, with no warnings before it.
    let target = try format.makeTarget(request)
    planned(plan)
    let sink = target.writer
    let reports: [ConvertedTensorReport]
    do {
        // Adapted to what the writer stores before anything is quantized or written.
        let decisions = try plan.decisions.adapted(to: sink, source: source, format: format.name)
        let planned = plan.config.granularity.granularity(groupSize: plan.config.groupSize)
        var metadata = Converter.standardMetadata(
            source: source,
            rulesJSON: try RulesRecord(plan: plan, storing: sink.storedScheme(forPlanned: planned)).json(),
            compression: (format.usesCompressionLevel ? options.compressionLevel : nil).map { "zstd-\($0)" } ?? "none",
            toolVersion: options.toolVersion)
        if case .symmetricInt8 = sink.storedScheme(forPlanned: planned) {
            // Only where the arithmetic applies: Q8_0 has ggml's one arithmetic.
            metadata[Converter.arithmeticKey] = .string(options.arithmetic.rawValue)
        }
        let converter = Converter(
            source: source, decisions: decisions, sink: sink, metadata: metadata, arithmetic: options.arithmetic,
            sliceBytes: options.sliceBytes)
        reports = try converter.run(progress: progress)
        try target.commit()
    } catch {
        target.discard()
        throw error
    }
    return ConversionReport(
        input: input, output: output, format: format.name, tensors: reports.map(TensorReport.init),
        inputBytes: source.tensors.reduce(0) { $0 + $1.byteCount }, outputBytes: fileSize(output),
        seconds: Date().timeIntervalSince(started))
}

/// The size of the file at `path` (or the sum of a folder's files), or 0 when unreadable.
package func fileSize(_ path: String) -> Int {
    let manager = FileManager.default
    var isFolder: ObjCBool = false
    guard manager.fileExists(atPath: path, isDirectory: &isFolder) else { return 0 }
    if !isFolder.boolValue {
        return (try? manager.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }
    let url = URL(fileURLWithPath: path)
    let files = manager.enumerator(at: url, includingPropertiesForKeys: [.fileSizeKey])
    var total = 0
    while let file = files?.nextObject() as? URL {
        total += (try? file.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0
    }
    return total
}

/// The rules as `swiftquant.rules` records them (Specs/swiftquant-checkpoint.md).
///
/// A writer that stores another scheme than symmetric INT8 whatever the plan's granularity
/// (GGUF: Q8_0) records that scheme instead of the granularity the plan asked for.
struct RulesRecord: Encodable {
    var config: String?
    var defaults: Bool
    var granularity: String?
    var groupSize: Int?
    var scheme: String?
    var keepDType: String
    var preset: String?
    var rules: [String]
    var decisions: [String: String]

    init(plan: QuantizationPlan, storing scheme: QuantizationDescriptor) {
        let config = plan.config
        self.config = config.path
        defaults = config.useDefaults
        if case .symmetricInt8 = scheme {
            granularity = config.granularity.rawValue
            groupSize = config.groupSize
        } else {
            self.scheme = scheme.name
        }
        keepDType = config.keepDType.rawValue
        preset = config.preset?.rawValue
        rules = config.rules.map(\.label)
        decisions = Dictionary(plan.decisions.map { ($0.tensor.name, $0.reason) }, uniquingKeysWith: { first, _ in first })
    }

    enum CodingKeys: String, CodingKey {
        case config, defaults, granularity, groupSize = "group_size", scheme, keepDType = "keep_dtype", preset, rules, decisions
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(config, forKey: .config)  // null for a config built in code
        try container.encode(defaults, forKey: .defaults)
        if let scheme {
            try container.encode(scheme, forKey: .scheme)
        } else {
            try container.encode(granularity, forKey: .granularity)
            try container.encode(groupSize, forKey: .groupSize)
        }
        try container.encode(keepDType, forKey: .keepDType)
        try container.encodeIfPresent(preset, forKey: .preset)
        try container.encode(rules, forKey: .rules)
        try container.encode(decisions, forKey: .decisions)
    }

    func json() throws -> String {
        String(decoding: try JSONEncoder.report(pretty: false).encode(self), as: UTF8.self)
    }
}

extension JSONEncoder {
    /// The encoder of every JSON report and record: keys sorted (a stable order run to run),
    /// slashes unescaped; non-finite numbers are encoded as `null` by the reports themselves.
    public static func report(pretty: Bool) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
