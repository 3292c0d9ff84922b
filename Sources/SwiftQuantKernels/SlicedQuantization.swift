import CSwiftQuantKernels
import SwiftQuantCore

/// Quantizes and measures one tensor a row slice at a time, with exactly the codes and scales
/// of quantizing it whole (Float32 arithmetic), so that a converter never holds more than a
/// slice of a giant tensor.
///
/// Rows are the tensor's matrix view (`matrixView(of:)`: the first dimension by the rest);
/// a slice is a run of whole rows, so per channel, per group and Q8_0 blocks never straddle
/// slices. Per tensor needs the whole tensor's max|w| first: pass it in (a streaming pass of
/// ``absmax(encoded:encoding:)`` over the slices gives it, since a maximum has no order).
///
/// The error metrics add up per reduction chunk of the whole tensor; slices whose first row
/// starts on a chunk boundary (``metricsRowAlignment``) give the same sums in the same order
/// as measuring the tensor whole, so the same metrics bit for bit. Other slice sizes still
/// give deterministic metrics, whatever the thread count, but summed in another order.
public struct SliceQuantizer: Sendable {
    /// The scheme every slice is stored in, effective for the whole tensor's shape.
    public let scheme: QuantizationDescriptor
    public let shape: [Int]
    public let encoding: FloatEncoding
    /// Values per row of the matrix view.
    public let columns: Int
    /// The per-tensor scale, from the whole tensor's max|w|.
    private let tensorScale: Float
    /// 10 % of the whole tensor's max|w|: the relative-error threshold.
    private let threshold: Float

    /// - Parameters:
    ///   - scheme: symmetric INT8 (any granularity) or Q8_0; made effective for `shape`.
    ///   - absmax: max|w| of the whole tensor, finite.
    /// - Throws: what the scheme throws for a shape it cannot hold.
    public init(scheme: QuantizationDescriptor, shape: [Int], encoding: FloatEncoding, absmax: Float) throws(KernelError) {
        precondition(absmax.isFinite, "the tensor's max|w| must be finite: find its first bad value instead")
        if case .symmetricInt8(.perGroup(let size)) = scheme, size <= 0 { throw .invalidGroupSize(size) }
        let effective = scheme.effective(for: shape)
        if let reason = effective.unsupportedReason(for: shape) {
            throw .unsupportedShape(shape, scheme: effective, reason: reason)
        }
        self.scheme = effective
        self.shape = shape
        self.encoding = encoding
        columns = matrixView(of: shape).columns
        tensorScale = symmetricScale(absmax: absmax)
        threshold = absmax * 0.1
    }

    /// The rows of the matrix view.
    public var rows: Int { matrixView(of: shape).rows }

    /// Slices that are a multiple of this many rows start on the whole tensor's reduction
    /// chunks, so their metrics equal the unsliced ones bit for bit.
    public var metricsRowAlignment: Int {
        let chunk = reductionChunk
        var a = max(columns, 1), b = chunk
        while b != 0 { (a, b) = (b, a % b) }
        return chunk / a
    }

    /// Quantizes the rows `rows` of the tensor, given as their `encoded` bytes.
    ///
    /// Returns a weight of shape `[rows.count, columns]` in ``scheme`` whose codes and scales
    /// are those rows' codes and scales in the whole tensor (per tensor: the tensor's one scale).
    /// - Throws: `KernelError.nonFiniteValue(index:value:)` with the index in the whole tensor.
    public func quantize(slice encoded: UnsafeRawBufferPointer, rows: Range<Int>) throws(KernelError) -> QuantizedWeight {
        let count = rows.count * columns
        precondition(encoded.count == count * encoding.byteWidth, "slice byte count does not match its rows")
        let sliceShape = [rows.count, columns]
        let offset = rows.lowerBound * columns
        do throws(KernelError) {
            switch scheme {
            case .symmetricInt8(.perTensor):
                let codes = OwnedBytes(count: count)
                quantizeWithScale(encoded, count: count, into: codes.pointer.bindMemory(to: Int8.self, capacity: max(count, 1)))
                return QuantizedWeight(unchecked: sliceShape, scheme: scheme, codes: SharedBytes(codes), scales: [tensorScale])
            default:
                return try scheme.scheme(arithmetic: .float32).quantize(encoded: encoded, encoding: encoding, shape: sliceShape)
            }
        } catch {
            if case .nonFiniteValue(let index, let value) = error { throw .nonFiniteValue(index: index + offset, value: value) }
            throw error
        }
    }

    /// ``quantize(slice:rows:)`` and ``measure(_:encoded:into:)`` at once: for per channel, per
    /// group and Q8_0 in one pass over the slice, decoded a cache-sized chunk at a time (no
    /// Float32 copy of the slice). The same weight and sums.
    public func quantizeAndMeasure(
        slice encoded: UnsafeRawBufferPointer, rows: Range<Int>, into accumulator: inout QuantizationErrorAccumulator
    ) throws(KernelError) -> QuantizedWeight {
        if case .symmetricInt8(.perTensor) = scheme {
            let weight = try quantize(slice: encoded, rows: rows)
            measure(weight, encoded: encoded, into: &accumulator)
            return weight
        }
        do throws(KernelError) {
            let implementation = scheme.scheme(arithmetic: .float32)
            guard let fused = try implementation.quantizeAndMeasureInOnePass(
                encoded: encoded, encoding: encoding, shape: [rows.count, columns], threshold: threshold)
            else {
                let weight = try quantize(slice: encoded, rows: rows)
                measure(weight, encoded: encoded, into: &accumulator)
                return weight
            }
            accumulator.sums.add(fused.chunks)
            accumulator.count += fused.weight.elementCount
            return fused.weight
        } catch {
            if case .nonFiniteValue(let index, let value) = error {
                throw .nonFiniteValue(index: index + rows.lowerBound * columns, value: value)
            }
            throw error
        }
    }

    /// Adds the error of a slice (as ``quantize(slice:rows:)`` returned it) against its
    /// `encoded` originals to `accumulator`. Slices must be added in row order.
    public func measure(_ slice: QuantizedWeight, encoded: UnsafeRawBufferPointer, into accumulator: inout QuantizationErrorAccumulator) {
        let count = slice.elementCount
        guard count > 0 else { return }
        let source = EncodedValues(base: rawBase(encoded), encoding: encoding, count: count)
        let chunks: [ErrorSums] = slice.withInt8Codes { codes in
            slice.scales.withUnsafeBufferPointer { scales in
                errorChunkSums(source, values: codes, scales: scales, threshold: threshold)
            }
        }
        accumulator.sums.add(chunks)
        accumulator.count += count
    }

    /// Per tensor: every value divided by the tensor's scale, as the whole-tensor kernel does.
    private func quantizeWithScale(_ encoded: UnsafeRawBufferPointer, count: Int, into values: UnsafeMutablePointer<Int8>) {
        quantizeRuns(EncodedValues(base: rawBase(encoded), encoding: encoding, count: count), scale: tensorScale, values: values)
    }
}

/// Error sums gathered slice by slice (see ``SliceQuantizer/measure(_:encoded:into:)``).
public struct QuantizationErrorAccumulator: Sendable {
    var sums = ErrorSums()
    var count = 0

    public init() {}

    /// The metrics of every slice added so far.
    public var metrics: QuantizationErrorMetrics { sums.metrics(count: count) }
}

/// The index and value of the first NaN or infinite value of little-endian `encoded` values,
/// or `nil`: for a caller whose streaming absmax came out non-finite.
public func firstNonFinite(encoded: UnsafeRawBufferPointer, encoding: FloatEncoding) -> (index: Int, value: Float)? {
    let source = EncodedValues(base: rawBase(encoded), encoding: encoding, count: encoded.count / encoding.byteWidth)
    // Each chunk's max|w| first (NaN and inf win in the bit-pattern order), then a scan of
    // the first bad chunk only.
    for chunk in 0..<reductionChunkCount(source.count) {
        let range = reductionChunkRange(chunk, count: source.count)
        let magnitude = Float(bitPattern: sqk_absmax_bits(
            KernelISA.active.rawValue, encoding.kernelEncoding, source.base, range.lowerBound, range.upperBound))
        if !magnitude.isFinite, let index = source.firstNonFinite(in: range) { return (index, source.value(at: index)) }
    }
    return nil
}

/// Every value divided by `scale`, in parallel reduction chunks; the source is finite
/// (its tensor's max|w| is).
private func quantizeRuns(_ source: EncodedValues, scale: Float, values: UnsafeMutablePointer<Int8>) {
    let count = source.count
    let isa = KernelISA.active.rawValue
    let encoding = source.encoding.kernelEncoding
    parallelRanges(reductionChunkCount(count)) { chunks in
        let start = chunks.lowerBound * reductionChunk
        let end = min(count, chunks.upperBound * reductionChunk)
        sqk_quantize_range(isa, encoding, source.base, start, end, scale, values)
    }
}

// MARK: - Quantizing and measuring in one pass

extension QuantizationScheme {
    /// Quantizes `encoded` floats and measures the error of the result: the same weight and
    /// metrics as ``QuantizationScheme/quantize(encoded:encoding:shape:)`` followed by
    /// ``QuantizationScheme/errorMetrics(of:encoded:encoding:)``. Schemes that can do both in
    /// one pass over the source do (Q8_0); others call the two.
    public func quantizeAndMeasure(
        encoded: UnsafeRawBufferPointer, encoding: FloatEncoding, shape: [Int]
    ) throws(KernelError) -> (weight: QuantizedWeight, metrics: QuantizationErrorMetrics) {
        if let fused = try quantizeAndMeasureInOnePass(encoded: encoded, encoding: encoding, shape: shape, threshold: nil) {
            var total = ErrorSums()
            total.add(fused.chunks)
            return (fused.weight, total.metrics(count: fused.weight.elementCount))
        }
        let weight = try quantize(encoded: encoded, encoding: encoding, shape: shape)
        return (weight, errorMetrics(of: weight, encoded: encoded, encoding: encoding))
    }
}

extension QuantizationScheme {
    /// The one-pass quantize-and-measure of Q8_0 and Float32-arithmetic symmetric INT8 (`nil`
    /// for other schemes): the weight and the error sums of each reduction chunk from `encoded`'s
    /// start, the relative error measured above `threshold` (`nil`: 10 % of `encoded`'s own max|w|).
    func quantizeAndMeasureInOnePass(
        encoded: UnsafeRawBufferPointer, encoding: FloatEncoding, shape: [Int], threshold: Float?
    ) throws(KernelError) -> (weight: QuantizedWeight, chunks: [ErrorSums])? {
        if let q8_0 = self as? Q8_0 {
            return try q8_0.quantizeAndMeasureFused(encoded: encoded, encoding: encoding, shape: shape, threshold: threshold)
        }
        if let int8 = self as? SymmetricInt8, int8.arithmetic == .float32 {
            return try int8.quantizeAndMeasureFused(encoded: encoded, encoding: encoding, shape: shape, threshold: threshold)
        }
        return nil
    }
}

extension Q8_0 {
    /// One streaming max|w| pass (the relative error's threshold), then, per reduction chunk
    /// and in parallel, the chunk decoded into a cache-sized Float32 buffer, quantized by
    /// ``quantizeQ8_0(_:codes:scales:)`` and measured on that buffer while it is in cache.
    /// The chunks are the whole-tensor metrics' chunks and decoding is exact, so the result
    /// equals quantizing (which decodes the whole tensor to Float32 first) then measuring.
    func quantizeAndMeasureFused(
        encoded: UnsafeRawBufferPointer, encoding: FloatEncoding, shape: [Int], threshold given: Float?
    ) throws(KernelError) -> (weight: QuantizedWeight, chunks: [ErrorSums]) {
        let count = encoded.count / encoding.byteWidth
        guard shape.checkedElementCount == count else { throw .shapeMismatch(expected: shape, elements: count) }
        if let reason = QuantizationDescriptor.q8_0.unsupportedReason(for: shape) {
            throw .unsupportedShape(shape, scheme: .q8_0, reason: reason)
        }
        let magnitude = absmax(encoded: encoded, encoding: encoding)
        guard magnitude.isFinite else {
            let (index, value) = firstNonFinite(encoded: encoded, encoding: encoding)!
            throw .nonFiniteValue(index: index, value: value)
        }
        let threshold = given ?? magnitude * 0.1
        let codes = OwnedBytes(count: count)
        var scales = [Float](repeating: 0, count: count / Self.blockLength)
        var partial = [ErrorSums](repeating: ErrorSums(), count: reductionChunkCount(count))
        let isa = KernelISA.active.rawValue
        scales.withUnsafeMutableBufferPointer { scaleBuffer in
            partial.withUnsafeMutableBufferPointer { partial in
                let codeBase = codes.pointer.bindMemory(to: Int8.self, capacity: max(count, 1))
                forEachDecodedChunk(encoded, encoding: encoding, count: count) { chunk, values, floats in
                    let blocks = values.lowerBound / Self.blockLength..<values.upperBound / Self.blockLength
                    // Finite (the absmax said so): this cannot throw.
                    try? quantizeQ8_0(
                        UnsafeBufferPointer(floats),
                        codes: UnsafeMutableBufferPointer(start: codeBase + values.lowerBound, count: values.count),
                        scales: UnsafeMutableBufferPointer(rebasing: scaleBuffer[blocks]))
                    partial[chunk] = chunkSums(
                        isa, EncodedValues(base: UnsafeRawPointer(floats.baseAddress!), encoding: .float32, count: values.count),
                        0..<values.count, codeBase + values.lowerBound,
                        scaleBuffer.baseAddress! + blocks.lowerBound, Self.blockLength, threshold)
                }
            }
        }
        return (QuantizedWeight(unchecked: shape, scheme: .q8_0, codes: SharedBytes(codes), scales: scales), partial)
    }
}

extension SymmetricInt8 {
    /// Symmetric INT8 (Float32 arithmetic) quantized and measured with one decode of the source.
    ///
    /// Pass 1 reads the encoded values for every block's max|w| (on the bit patterns for
    /// Float16, no decoding) and sets the scales; their maximum is the tensor's max|w|, the
    /// relative error's threshold. Pass 2, per reduction chunk and in parallel, decodes the
    /// chunk into a cache-sized Float32 buffer, quantizes it with the scales and measures it
    /// there. Blocks may straddle chunks (rows of 5,632 values): each chunk writes only its own
    /// codes. The same codes, scales and metrics as ``quantize(encoded:encoding:shape:)`` then
    /// ``errorMetrics(of:encoded:encoding:)``: the same per-value arithmetic and the same chunks.
    func quantizeAndMeasureFused(
        encoded: UnsafeRawBufferPointer, encoding: FloatEncoding, shape: [Int], threshold given: Float?
    ) throws(KernelError) -> (weight: QuantizedWeight, chunks: [ErrorSums]) {
        precondition(arithmetic == .float32)
        if case .perGroup(let size) = granularity, size <= 0 { throw .invalidGroupSize(size) }
        let count = encoded.count / encoding.byteWidth
        guard shape.checkedElementCount == count else { throw .shapeMismatch(expected: shape, elements: count) }
        let effective = effectiveGranularity(for: shape, requested: granularity)
        let scaleCount = SwiftQuantCore.scaleCount(shape: shape, granularity: effective)
        let codes = OwnedBytes(count: count)
        var scales = [Float](repeating: 1, count: scaleCount)
        guard count > 0 else {
            return (QuantizedWeight(unchecked: shape, scheme: .symmetricInt8(effective), codes: SharedBytes(codes), scales: scales), [])
        }
        let blockLength = count / scaleCount
        let magnitude = try blockScales(
            EncodedValues(base: rawBase(encoded), encoding: encoding, count: count), blockLength: blockLength, into: &scales)
        let threshold = given ?? magnitude * 0.1
        var partial = [ErrorSums](repeating: ErrorSums(), count: reductionChunkCount(count))
        let codeBase = codes.pointer.bindMemory(to: Int8.self, capacity: count)
        let isa = KernelISA.active.rawValue
        let float32 = FloatEncoding.float32.kernelEncoding
        scales.withUnsafeBufferPointer { scaleBuffer in
            let scaleBase = scaleBuffer.baseAddress!
            partial.withUnsafeMutableBufferPointer { partial in
                forEachDecodedChunk(encoded, encoding: encoding, count: count) { chunk, values, floats in
                    // Indexed like the whole tensor: reads stay inside `values`.
                    let source = EncodedValues(
                        base: UnsafeRawPointer(floats.baseAddress!) - values.lowerBound * 4, encoding: .float32,
                        count: values.upperBound)
                    var start = values.lowerBound
                    while start < values.upperBound {
                        let block = start / blockLength
                        let end = min(values.upperBound, (block + 1) * blockLength)
                        sqk_quantize_range(isa, float32, source.base, start, end, scaleBase[block], codeBase)
                        start = end
                    }
                    partial[chunk] = chunkSums(isa, source, values, codeBase, scaleBase, blockLength, threshold)
                }
            }
        }
        return (QuantizedWeight(unchecked: shape, scheme: .symmetricInt8(effective), codes: SharedBytes(codes), scales: scales), partial)
    }
}

/// Calls `body` for every reduction chunk of `count` `encoded` values, in parallel, with the
/// chunk's index, its value range and its values decoded into a cache-sized Float32 buffer
/// (one per worker), so that one-pass kernels read the source once and work in cache.
private func forEachDecodedChunk(
    _ encoded: UnsafeRawBufferPointer, encoding: FloatEncoding, count: Int,
    _ body: (_ chunk: Int, _ values: Range<Int>, _ floats: UnsafeMutableBufferPointer<Float>) -> Void
) {
    let width = encoding.byteWidth
    parallelRanges(reductionChunkCount(count)) { range in
        // One thread per range already: the kernels called here stay on it.
        Parallelism.withThreads(1) {
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: reductionChunk)
            defer { buffer.deallocate() }
            for chunk in range {
                let values = reductionChunkRange(chunk, count: count)
                let floats = UnsafeMutableBufferPointer(rebasing: buffer[0..<values.count])
                decodeFloats(
                    UnsafeRawBufferPointer(rebasing: encoded[values.lowerBound * width..<values.upperBound * width]),
                    encoding: encoding, into: floats)
                body(chunk, values, floats)
            }
        }
    }
}

/// Every block's scale from its max|w|, in parallel; returns the largest max|w|. Throws for
/// the first non-finite value (flat order), as quantizing does.
private func blockScales(
    _ source: EncodedValues, blockLength: Int, into scales: inout [Float]
) throws(KernelError) -> Float {
    let blocks = scales.count
    let isa = KernelISA.active.rawValue
    let encoding = source.encoding.kernelEncoding
    if blocks == 1 {
        // Per tensor: one block, whose max|w| is a parallel reduction of its own.
        let magnitude = kernelAbsmax(source)
        guard magnitude.isFinite else {
            let index = source.firstNonFinite(in: 0..<source.count)!
            throw .nonFiniteValue(index: index, value: source.value(at: index))
        }
        scales[0] = symmetricScale(absmax: magnitude)
        return magnitude
    }
    var maxima = [UInt32](repeating: 0, count: blocks)
    scales.withUnsafeMutableBufferPointer { scales in
        maxima.withUnsafeMutableBufferPointer { maxima in
            parallelRanges(blocks, minimumChunk: max(1, minimumValuesPerTask / max(blockLength, 1))) { range in
                for block in range {
                    let magnitude = Float(bitPattern: sqk_absmax_bits(
                        isa, encoding, source.base, block * blockLength, (block + 1) * blockLength))
                    maxima[block] = magnitude.bitPattern & 0x7fff_ffff
                    scales[block] = magnitude.isFinite ? symmetricScale(absmax: magnitude) : .nan
                }
            }
        }
    }
    if let bad = scales.firstIndex(where: { $0.isNaN }) {
        let index = source.firstNonFinite(in: bad * blockLength..<(bad + 1) * blockLength)!
        throw .nonFiniteValue(index: index, value: source.value(at: index))
    }
    return Float(bitPattern: maxima.max() ?? 0)
}
