import Dispatch
import Foundation
import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantPlan
import SwiftQuantSafeTensors
import SwiftQuantGGUF
import SwiftQuantCheckpoint

/// The streaming conversion: every tensor of a source is read, decided by the plan, quantized
/// (or kept), and handed to a `TensorWriter`, one tensor at a time.
///
/// Memory stays bounded by a couple of tensors, never the model: while the sink compresses and
/// writes tensor *i*, one worker reads and quantizes tensor *i + 1*; input pages are released
/// once a tensor is written, so resident memory stays bounded too. Both stages use every
/// kernel thread internally, so both cores stay busy.
public final class Converter {
    public let source: any TensorSource
    public let decisions: [TensorDecision]
    public let sink: any TensorWriter
    public let metadata: [String: MetadataValue]
    /// The arithmetic symmetric INT8 quantizes and measures encoded weights with.
    public let arithmetic: Arithmetic

    /// The metadata key recording ``arithmetic`` (`float32` or `reference`), read back by
    /// `verify` to measure with the same arithmetic.
    public static let arithmeticKey = "swiftquant.arithmetic"
    /// Whether tensors the source already stores quantized (a SwiftQuant checkpoint's) are
    /// handed to the writer as they are (export), instead of refused (convert).
    public let passesQuantizedThrough: Bool
    /// Source bytes per slice: a float tensor larger than this is quantized (or re-encoded to
    /// its kept dtype) and handed to the writer a slice of whole rows at a time, so memory is
    /// bounded by a few slices rather than by the largest tensor. The output is the same bytes
    /// either way.
    public let sliceBytes: Int

    /// The default ``sliceBytes``: 64 MiB.
    public static let defaultSliceBytes = 64 << 20

    /// Prepares a conversion; nothing is read or written until ``run(progress:)``.
    ///
    /// - Parameters:
    ///   - source: the tensors to convert, from any reader.
    ///   - decisions: one per tensor of `source`, in its order (`QuantizationPlan.decisions`).
    ///   - sink: the writer that receives every tensor, in the source's order.
    ///   - metadata: file metadata for the sink (see ``Converter/standardMetadata(source:rulesJSON:compression:toolVersion:)``).
    public init(
        source: any TensorSource, decisions: [TensorDecision], sink: any TensorWriter,
        metadata: [String: MetadataValue], arithmetic: Arithmetic = .float32, passesQuantizedThrough: Bool = false,
        sliceBytes: Int = Converter.defaultSliceBytes
    ) {
        precondition(sliceBytes > 0, "sliceBytes must be positive")
        self.sliceBytes = sliceBytes
        self.passesQuantizedThrough = passesQuantizedThrough
        self.source = source
        self.decisions = decisions
        self.sink = sink
        self.metadata = metadata
        self.arithmetic = arithmetic
    }

    /// Converts every tensor; `progress` is called on the calling thread after each one.
    public func run(progress: (ConversionProgress) -> Void = { _ in }) throws -> [ConvertedTensorReport] {
        // A SwiftQuant checkpoint's quantized tensors read as INT8 values whose scales are
        // separate: kept as they are, the output would hold the INT8 values without scales.
        if !passesQuantizedThrough, let quantized = decisions.first(where: { $0.tensor.storage?.quantization != nil }) {
            throw ConversionError.alreadyQuantized(path: source.path, tensor: quantized.tensor.name)
        }
        // Likewise an int8 weight with its NAME_scale (a compressed-tensors folder): kept as
        // I8, its scale would be quantized as if it were a weight. An export passes the
        // checkpoint's own quantized weights through, so the check does not apply there.
        for decision in decisions where !passesQuantizedThrough && decision.tensor.dtype == .i8 {
            if try source.quantizedWeight(for: decision.tensor.name) != nil {
                throw ConversionError.alreadyQuantized(path: source.path, tensor: decision.tensor.name)
            }
        }
        try sink.begin(tensors: decisions.map(\.tensor), metadata: metadata)
        let totalBytes = decisions.reduce(0) { $0 + $1.tensor.byteCount }
        var reports: [ConvertedTensorReport] = []
        reports.reserveCapacity(decisions.count)
        var doneBytes = 0
        // A producer thread reads and quantizes up to `lookahead` tensors ahead while this thread
        // hands them to the sink, so a long write (a big kept embedding) and a long quantization
        // (a big MLP weight) overlap. A plain thread, not a dispatch queue: on Linux a dispatch
        // worker blocked in the kernels' concurrentPerform holds a pool slot, and the pool then
        // never grows past it.
        let pipeline = PreparePipeline(
            decisions: decisions,
            schemes: try Self.storedSchemes(decisions.filter { $0.tensor.storage?.quantization == nil }, sink: sink, path: source.path),
            source: source, arithmetic: arithmetic, sliceBytes: sliceBytes, lookahead: 2)
        defer { pipeline.cancel() }
        for index in decisions.indices {
            let prepared = try pipeline.take(index)
            let report = try prepared.write(to: sink)
            source.releasePages(for: prepared.decision.tensor.name)
            reports.append(report)
            doneBytes += prepared.decision.tensor.byteCount
            progress(ConversionProgress(
                tensorsDone: index + 1, tensorCount: decisions.count, bytesDone: doneBytes, totalBytes: totalBytes,
                lastTensor: prepared.decision.tensor.name))
        }
        try sink.finish()
        return reports
    }

    /// The scheme `sink` stores for every granularity the decisions may quantize at (the
    /// planned one and the `min_snr_db` per-group fallback), checked up front: the producer
    /// thread then never touches the sink.
    static func storedSchemes(
        _ decisions: [TensorDecision], sink: any TensorWriter, path: String
    ) throws -> [Granularity: QuantizationDescriptor] {
        var schemes: [Granularity: QuantizationDescriptor] = [:]
        for decision in decisions {
            guard case .quantize(let granularity) = decision.action else { continue }
            for candidate in [granularity, .perGroup(size: decision.fallbackGroupSize)] where schemes[candidate] == nil {
                let scheme = sink.storedScheme(forPlanned: candidate)
                guard sink.canStore(scheme) else {
                    throw TensorWriterError.unsupportedScheme(
                        tensor: decision.tensor.name, scheme: scheme, format: String(describing: type(of: sink)))
                }
                schemes[candidate] = scheme
            }
        }
        return schemes
    }

    /// The metadata keys the spec defines, for a source and the rules that decided it.
    ///
    /// Every key of the source's own metadata is carried as `source.<key>` with its value and
    /// type (a GGUF source's integers, floats, bools and arrays too, not only its strings), so
    /// a checkpoint made from a GGUF file keeps its hyperparameters and tokenizer.
    public static func standardMetadata(
        source: any TensorSource, rulesJSON: String, compression: String, toolVersion: String
    ) -> [String: MetadataValue] {
        var metadata: [String: MetadataValue] = [
            "general.tool": .string("swiftquant \(toolVersion)"),
            "general.source": .string(lastPathComponent(source.path)),
            "general.source_format": .string(source.formatName),
            "swiftquant.rules": .string(rulesJSON),
            "swiftquant.compression": .string(compression),
        ]
        for (key, value) in source.metadata { metadata["source." + key] = value }
        // A checkpoint converted from a Hugging Face folder carries what running the model
        // needs (configuration, tokenizer, generation defaults), so it works with nothing beside it.
        let folder = isDirectory(source.path) ? source.path : parentFolder(of: source.path)
        if fileExists(joinedPath(folder, "config.json")) {
            for name in embeddedModelFiles {
                if let data = FileManager.default.contents(atPath: joinedPath(folder, name)),
                   let text = String(data: data, encoding: .utf8) {
                    metadata["hf." + name] = .string(text)
                }
            }
        }
        return metadata
    }

    /// The Hugging Face files ``standardMetadata(source:rulesJSON:compression:toolVersion:)``
    /// stores as `hf.<file name>` when the source's folder has a `config.json`.
    public static let embeddedModelFiles = ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"]
}

/// Where a conversion is, for a progress bar.
public struct ConversionProgress: Sendable {
    public var tensorsDone: Int
    public var tensorCount: Int
    /// Source bytes of the tensors done.
    public var bytesDone: Int
    public var totalBytes: Int
    public var lastTensor: String
}

/// What happened to one tensor.
public struct ConvertedTensorReport: Sendable {
    public var name: String
    public var sourceDType: DType
    public var shape: [Int]
    /// The final action, after any `min_snr_db` fallback.
    public var action: TensorAction
    /// The decision's reason, as `plan` prints it.
    public var reason: String
    /// The scheme the output stores the tensor in, for quantized tensors (`q8_0` in GGUF).
    public var scheme: QuantizationDescriptor?
    /// The error of what the output stores, for quantized tensors.
    public var metrics: QuantizationErrorMetrics?
    /// The plan's adjustments (per group falling back to per channel, …) and what a
    /// `min_snr_db` check did, joined with "; "; `nil` when there were none.
    public var note: String?
}

/// Errors converting a tensor.

/// A tensor read and quantized, ready for the sink.
private struct PreparedTensor: @unchecked Sendable {
    // Sendable: built on the producer thread, then only read by the consumer; `kept.bytes`
    // stays valid because `kept.owner` is held here.
    let decision: TensorDecision
    let report: ConvertedTensorReport
    private let quantized: QuantizedWeight?
    private let kept: (dtype: DType, bytes: UnsafeRawBufferPointer, owner: AnyObject)?
    /// A tensor larger than a slice: quantized or re-encoded slice by slice while the writer takes it.
    private let sliced: SlicedTensor?
    private let source: any TensorSource

    init(
        decision: TensorDecision, schemes: [Granularity: QuantizationDescriptor], source: any TensorSource,
        arithmetic: Arithmetic, sliceBytes: Int
    ) throws {
        self.decision = decision
        self.source = source
        let tensor = decision.tensor
        var action = decision.action
        var metrics: QuantizationErrorMetrics?
        var note: String?
        var weights: [Float] = []
        var quantized: QuantizedWeight?
        var sliced: SlicedTensor?
        let storing: (Granularity) -> QuantizationDescriptor = { schemes[$0] ?? .symmetricInt8($0) }
        if tensor.storage?.quantization == nil, case .quantize(let granularity) = action,
           let encoding = tensor.dtype.floatEncoding, tensor.byteCount > sliceBytes,
           arithmetic == .float32 || storing(granularity) == .q8_0
        {
            // Too large to hold whole: its max|w| now (a streaming pass); a min_snr_db check
            // measures each scheme it tries in slices, keeping only the metrics; the slices
            // themselves are quantized again as the writer takes them.
            let scan = try SliceScan(tensor, encoding: encoding, source: source, sliceBytes: sliceBytes)
            let resolved: (action: TensorAction, chosen: SliceQuantizer?, metrics: QuantizationErrorMetrics?, attempts: [QuantizationAttempt], note: String?)
            do throws(KernelError) {
                resolved = try resolve(decision, shape: tensor.shape, storing: storing, scheme: \.scheme) { (descriptor) throws(KernelError) in
                    let quantizer = try SliceQuantizer(scheme: descriptor, shape: tensor.shape, encoding: encoding, absmax: scan.absmax)
                    guard decision.minimumSNRDecibels != nil else { return (quantizer, .empty) }
                    return (quantizer, try SlicedTensor(scan, quantizer: quantizer).measure())
                }
            } catch {
                throw conversionError(error, path: source.path, tensor: tensor.name)
            }
            action = resolved.action
            note = resolved.note
            if let quantizer = resolved.chosen {
                sliced = SlicedTensor(scan, quantizer: quantizer)
            }
        } else if tensor.storage?.quantization != nil {
            // Already quantized (exporting a checkpoint): the stored codes and scales as they are.
            guard let weight = try source.quantizedWeight(for: tensor.name) else {
                throw ConversionError.alreadyQuantized(path: source.path, tensor: tensor.name)
            }
            quantized = weight
            action = .quantize(weight.granularity)
        } else if case .quantize(let granularity) = action, decision.minimumSNRDecibels == nil,
           let encoding = tensor.dtype.floatEncoding
        {
            // Straight from the source's bytes: no Float32 copy of the tensor. Bit-identical to
            // decoding and calling resolve(_:weights:storing:), which only adds the min_snr_db retries.
            let scheme = storing(granularity).scheme(arithmetic: arithmetic)
            let data = try source.data(for: tensor.name)
            do throws(KernelError) {
                let (weight, measured) = try data.shared.withUnsafeBytes { (bytes) throws(KernelError) in
                    try scheme.quantizeAndMeasure(encoded: bytes, encoding: encoding, shape: tensor.shape)
                }
                metrics = measured
                quantized = weight
                action = .quantize(weight.granularity)
            } catch {
                throw conversionError(error, path: source.path, tensor: tensor.name)
            }
            source.releasePages(for: tensor.name)
        } else if case .quantize = action, arithmetic == .reference, let encoding = tensor.dtype.floatEncoding {
            // min_snr_db with the reference arithmetic: every try quantizes and measures the
            // weights in their own dtype, as the stored result must be computed.
            let data = try source.data(for: tensor.name)
            let resolved: ResolvedDecision
            do throws(KernelError) {
                resolved = try data.shared.withUnsafeBytes { (bytes) throws(KernelError) in
                    try resolve(decision, shape: tensor.shape, storing: storing) { (descriptor) throws(KernelError) in
                        let scheme = descriptor.scheme(arithmetic: arithmetic)
                        let weight = try scheme.quantize(encoded: bytes, encoding: encoding, shape: tensor.shape)
                        return (weight, scheme.errorMetrics(of: weight, encoded: bytes, encoding: encoding))
                    }
                }
            } catch {
                throw conversionError(error, path: source.path, tensor: tensor.name)
            }
            action = resolved.action
            quantized = resolved.quantized
            metrics = resolved.metrics
            note = resolved.note
        } else if case .quantize = action {
            weights = try source.floats(for: tensor.name)
            let resolved: ResolvedDecision
            do throws(KernelError) {
                resolved = try resolve(decision, weights: try FloatTensor(shape: tensor.shape, storage: weights), storing: storing)
            } catch {
                throw conversionError(error, path: source.path, tensor: tensor.name)
            }
            action = resolved.action
            quantized = resolved.quantized
            metrics = resolved.metrics
            note = resolved.note
        }
        var kept: (dtype: DType, bytes: UnsafeRawBufferPointer, owner: AnyObject)?
        if case .keep(let keepDType) = action, sliced == nil {
            if weights.isEmpty, tensor.byteCount > sliceBytes, let target = Self.reencodedDType(tensor, as: keepDType) {
                sliced = try SlicedTensor(reencoding: tensor, as: target, source: source, sliceBytes: sliceBytes)
            } else {
                kept = try Self.keptBytes(tensor, as: keepDType, weights: weights, source: source)
            }
        }
        self.kept = kept
        self.sliced = sliced
        self.quantized = quantized
        report = ConvertedTensorReport(
            name: tensor.name, sourceDType: tensor.dtype, shape: tensor.shape, action: action,
            reason: decision.reason, scheme: quantized?.scheme, metrics: metrics,
            note: (decision.notes + [note].compactMap { $0 }).joined(separator: "; ").nilIfEmpty)
    }

    /// The dtype a kept tensor is re-encoded to, or `nil` when its own bytes are kept.
    private static func reencodedDType(_ tensor: TensorInfo, as keep: KeepDType) -> DType? {
        let target: DType? = switch keep {
        case .source: nil
        case .f16: .f16
        case .bf16: .bf16
        case .f32: .f32
        }
        guard let target, target != tensor.dtype, tensor.dtype.isDecodableFloat, target.floatEncoding != nil else { return nil }
        return target
    }

    /// The bytes of a kept tensor: the source's own (zero-copy) or re-encoded floats.
    private static func keptBytes(
        _ tensor: TensorInfo, as keep: KeepDType, weights: [Float], source: any TensorSource
    ) throws -> (DType, UnsafeRawBufferPointer, AnyObject) {
        guard let target = reencodedDType(tensor, as: keep), let encoding = target.floatEncoding else {
            let data = try source.data(for: tensor.name)
            return (tensor.dtype, data.bytes, data.owner)
        }
        let floats = weights.isEmpty ? try source.floats(for: tensor.name) : weights
        let encoded = OwnedBytes(count: floats.count * encoding.byteWidth)
        floats.withUnsafeBufferPointer { encodeFloats($0, as: encoding, into: encoded.mutableBytes) }
        return (target, encoded.bytes, encoded)
    }

    /// Hands the tensor to `sink`; returns its report (a sliced tensor's metrics are known only now).
    func write(to sink: any TensorWriter) throws -> ConvertedTensorReport {
        let tensor = decision.tensor
        // A checkpoint's tensor names the dtype it was made from; any other source's is its own.
        let sourceDType = tensor.storage?.sourceDType ?? tensor.dtype
        if let sliced {
            var report = self.report
            let content: ConvertedTensor.Content
            switch sliced.kind {
            case .quantize(let quantizer):
                content = .quantizedSlices(QuantizedSlices(scheme: quantizer.scheme, shape: tensor.shape) { body in
                    let metrics = try sliced.quantizeSlices(with: quantizer, body)
                    report.metrics = metrics
                    return metrics
                })
                report.scheme = quantizer.scheme
            case .reencode(let target):
                content = .keptSlices(dtype: target, sliced.reencodedSlices(as: target))
            }
            try sink.write(ConvertedTensor(name: tensor.name, shape: tensor.shape, sourceDType: sourceDType, content: content))
            return report
        }
        try withConvertedTensor(sourceDType: sourceDType) { try sink.write($0) }
        return report
    }

    private func withConvertedTensor(sourceDType: DType, _ body: (ConvertedTensor) throws -> Void) throws {
        let tensor = decision.tensor
        if let kept {
            let source = self.source, name = tensor.name
            try withExtendedLifetime(kept.owner) {
                try body(ConvertedTensor(
                    name: tensor.name, shape: tensor.shape, sourceDType: sourceDType,
                    content: .kept(dtype: kept.dtype, bytes: kept.bytes),
                    releaseInputPages: { source.releasePages(for: name) }))
            }
            return
        }
        guard let quantized else { return }
        try body(ConvertedTensor(
            name: tensor.name, shape: tensor.shape, sourceDType: sourceDType,
            content: .quantized(quantized, metrics: report.metrics)))
    }
}

/// A float tensor larger than a slice, mapped and read once for its max|w| (the per-tensor
/// scale and the relative error's threshold), a budget's worth of rows at a time.
private struct SliceScan: @unchecked Sendable {
    // Sendable: the mapped bytes stay valid because `data.owner` is held here.
    let name: String
    let data: TensorData
    let encoding: FloatEncoding
    let rows: Int
    let columns: Int
    /// The rows of one slice within the budget.
    let budgetRows: Int
    let absmax: Float
    let source: any TensorSource

    init(_ tensor: TensorInfo, encoding: FloatEncoding, source: any TensorSource, sliceBytes: Int) throws {
        data = try source.data(for: tensor.name)
        (rows, columns) = matrixView(of: tensor.shape)
        budgetRows = max(1, sliceBytes / max(1, columns * encoding.byteWidth))
        let rowBytes = columns * encoding.byteWidth
        var magnitude: Float = 0
        for start in stride(from: 0, to: rows, by: budgetRows) {
            let range = start..<min(rows, start + budgetRows)
            let bytes = UnsafeRawBufferPointer(rebasing: data.bytes[range.lowerBound * rowBytes..<range.upperBound * rowBytes])
            let sliceMax = SwiftQuantKernels.absmax(encoded: bytes, encoding: encoding)
            if !sliceMax.isFinite, let (index, value) = firstNonFinite(encoded: bytes, encoding: encoding) {
                throw ConversionError.nonFiniteWeight(
                    path: source.path, tensor: tensor.name, index: start * columns + index, value: value)
            }
            magnitude = max(magnitude, sliceMax)
            source.releasePages(for: tensor.name)
        }
        name = tensor.name
        self.encoding = encoding
        absmax = magnitude
        self.source = source
    }
}

/// A float tensor larger than a slice, read a slice of whole rows at a time.
private struct SlicedTensor: @unchecked Sendable {
    // Sendable: the mapped bytes stay valid because `data.owner` is held here.
    enum Kind {
        case quantize(SliceQuantizer)
        case reencode(DType)
    }

    let kind: Kind
    let name: String
    let data: TensorData
    let encoding: FloatEncoding
    /// Rows and columns of the tensor's matrix view; a slice is a run of whole rows.
    let rows: Int
    let columns: Int
    let rowsPerSlice: Int
    let source: any TensorSource

    /// Quantizes the scanned tensor with `quantizer`, in slices a multiple of the metrics
    /// alignment when such slices fit the budget (the error metrics then sum in the same order as unsliced).
    init(_ scan: SliceScan, quantizer: SliceQuantizer) {
        let alignment = quantizer.metricsRowAlignment
        let budgetRows = scan.budgetRows
        let perSlice = alignment <= budgetRows ? budgetRows - budgetRows % alignment : budgetRows
        self.init(kind: .quantize(quantizer), name: scan.name, data: scan.data, encoding: scan.encoding, rows: scan.rows,
                  columns: scan.columns, rowsPerSlice: perSlice, source: scan.source)
    }

    /// Prepares to re-encode a kept float `tensor` to `target` in slices.
    init(reencoding tensor: TensorInfo, as target: DType, source: any TensorSource, sliceBytes: Int) throws {
        let data = try source.data(for: tensor.name)
        let (rows, columns) = matrixView(of: tensor.shape)
        let width = tensor.dtype.floatEncoding!.byteWidth
        self.init(kind: .reencode(target), name: tensor.name, data: data, encoding: tensor.dtype.floatEncoding!, rows: rows,
                  columns: columns, rowsPerSlice: max(1, sliceBytes / max(1, columns * width)), source: source)
    }

    private init(
        kind: Kind, name: String, data: TensorData, encoding: FloatEncoding, rows: Int, columns: Int, rowsPerSlice: Int,
        source: any TensorSource
    ) {
        self.kind = kind
        self.name = name
        self.data = data
        self.encoding = encoding
        self.rows = rows
        self.columns = columns
        self.rowsPerSlice = rowsPerSlice
        self.source = source
    }

    /// Calls `body` with every slice's rows and source bytes, releasing the pages read after each.
    private func forEachSlice(_ body: (Range<Int>, UnsafeRawBufferPointer) throws -> Void) throws {
        let rowBytes = columns * encoding.byteWidth
        try withExtendedLifetime(data.owner) {
            for start in stride(from: 0, to: rows, by: rowsPerSlice) {
                let range = start..<min(rows, start + rowsPerSlice)
                try body(range, UnsafeRawBufferPointer(rebasing: data.bytes[range.lowerBound * rowBytes..<range.upperBound * rowBytes]))
                source.releasePages(for: name)
            }
        }
    }

    /// The whole tensor's error with this slicing's quantizer, the codes discarded slice by slice.
    func measure() throws(KernelError) -> QuantizationErrorMetrics {
        guard case .quantize(let quantizer) = kind else { return .empty }
        var accumulator = QuantizationErrorAccumulator()
        let rowBytes = columns * encoding.byteWidth
        try withExtendedLifetime(data.owner) { () throws(KernelError) in
            for start in stride(from: 0, to: rows, by: rowsPerSlice) {
                let range = start..<min(rows, start + rowsPerSlice)
                let bytes = UnsafeRawBufferPointer(rebasing: data.bytes[range.lowerBound * rowBytes..<range.upperBound * rowBytes])
                _ = try quantizer.quantizeAndMeasure(slice: bytes, rows: range, into: &accumulator)
                source.releasePages(for: name)
            }
        }
        return accumulator.metrics
    }

    /// Quantizes every slice in row order into `body`; returns the whole tensor's error.
    func quantizeSlices(with quantizer: SliceQuantizer, _ body: (QuantizedWeight) throws -> Void) throws -> QuantizationErrorMetrics {
        var accumulator = QuantizationErrorAccumulator()
        try forEachSlice { rows, bytes in
            let slice: QuantizedWeight
            do throws(KernelError) {
                slice = try quantizer.quantizeAndMeasure(slice: bytes, rows: rows, into: &accumulator)
            } catch {
                throw conversionError(error, path: source.path, tensor: name)
            }
            try body(slice)
        }
        return accumulator.metrics
    }

    /// The tensor re-encoded to `target`, a slice at a time.
    func reencodedSlices(as target: DType) -> ByteSlices {
        let targetEncoding = target.floatEncoding!
        return ByteSlices(byteCount: rows * columns * targetEncoding.byteWidth) { piece in
            try forEachSlice { _, bytes in
                let floats = decodeFloats(bytes, encoding: encoding)
                let encoded = OwnedBytes(count: floats.count * targetEncoding.byteWidth)
                floats.withUnsafeBufferPointer { encodeFloats($0, as: targetEncoding, into: encoded.mutableBytes) }
                try encoded.withBytes(piece)
            }
        }
    }
}

/// The one mapping of a kernel failure to the converter's error naming the file and tensor.
func conversionError(_ error: KernelError, path: String, tensor: String) -> ConversionError {
    if case .nonFiniteValue(let index, let value) = error {
        return .nonFiniteWeight(path: path, tensor: tensor, index: index, value: value)
    }
    return .kernel(path: path, tensor: tensor, message: error.description)
}

/// The producer side of the conversion: one thread preparing tensors in order, at most
/// `lookahead` ahead of the consumer.
private final class PreparePipeline: @unchecked Sendable {
    private let condition = NSCondition()
    private var results: [Int: Result<PreparedTensor, Error>] = [:]
    private var consumed = 0
    private var cancelled = false
    private var finished = false
    private let lookahead: Int

    init(
        decisions: [TensorDecision], schemes: [Granularity: QuantizationDescriptor], source: any TensorSource,
        arithmetic: Arithmetic, sliceBytes: Int, lookahead: Int
    ) {
        self.lookahead = lookahead
        // Task-locals do not reach a new thread: carry the caller's thread count over.
        let threads = Parallelism.threads
        let thread = Thread { [self] in
            Parallelism.withThreads(threads) {
                produce(decisions: decisions, schemes: schemes, source: source, arithmetic: arithmetic, sliceBytes: sliceBytes)
            }
        }
        thread.stackSize = 1 << 22
        thread.start()
    }

    /// The producer thread's loop: prepares tensors in order, waiting while it is `lookahead` ahead.
    private func produce(
        decisions: [TensorDecision], schemes: [Granularity: QuantizationDescriptor], source: any TensorSource,
        arithmetic: Arithmetic, sliceBytes: Int
    ) {
        for (index, decision) in decisions.enumerated() {
            condition.lock()
            while !cancelled && index >= consumed + lookahead { condition.wait() }
            let stop = cancelled
            condition.unlock()
            if stop { break }
            let result = Result {
                try PreparedTensor(decision: decision, schemes: schemes, source: source, arithmetic: arithmetic, sliceBytes: sliceBytes)
            }
            condition.lock()
            results[index] = result
            condition.broadcast()
            condition.unlock()
            if case .failure = result { break }
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for tensor `index` (taken in order) and lets the producer move one further ahead.
    func take(_ index: Int) throws -> PreparedTensor {
        condition.lock()
        defer { condition.unlock() }
        while results[index] == nil { condition.wait() }
        let result = results.removeValue(forKey: index)!
        consumed = index + 1
        condition.broadcast()
        return try result.get()
    }

    /// Stops the producer and waits for it, so no work outlives the conversion.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        while !finished { condition.wait() }
        results.removeAll()
        condition.unlock()
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}

