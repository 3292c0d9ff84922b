/// Which quantization scheme produced a ``QuantizedWeight``: plain data, so that writers can
/// declare what they store, reports can name it and files can record it.
///
/// Every scheme stores codes row-major, in runs of consecutive codes that share one Float32
/// scale (its *blocks*), and dequantizes as `code × scale`. How codes are packed into bytes is
/// the scheme's business (``bitsPerCode``): both schemes here use one signed byte per code, and
/// a 4-bit scheme would pack two.
public enum QuantizationDescriptor: Hashable, Sendable, Codable, CustomStringConvertible {
    /// SwiftQuant's own symmetric INT8 with the reference semantics (`scale = max|w| / 127`,
    /// round half to even, clamp to [-128, 127]) at a granularity.
    case symmetricInt8(Granularity)
    /// ggml's Q8_0: blocks of 32 along each row, `d = max|w| / 127` stored as fp16, codes
    /// `roundf(w / d)`. The scales of a ``QuantizedWeight`` hold `d` exactly widened from fp16,
    /// so narrowing them back to fp16 is lossless.
    case q8_0

    /// The codes per block of ggml's Q8_0.
    public static let q8_0BlockLength = 32

    /// `symmetric-int8` or `q8_0`: the scheme's family, without its granularity.
    public var name: String {
        switch self {
        case .symmetricInt8: "symmetric-int8"
        case .q8_0: "q8_0"
        }
    }

    /// The granularity in SwiftQuant's terms: the symmetric scheme's own, per group of 32 for Q8_0.
    public var granularity: Granularity {
        switch self {
        case .symmetricInt8(let granularity): granularity
        case .q8_0: .perGroup(size: Self.q8_0BlockLength)
        }
    }

    /// `symmetric INT8 per-channel`, `Q8_0`: the scheme for messages.
    public var label: String {
        switch self {
        case .symmetricInt8(let granularity): "symmetric INT8 \(granularity)"
        case .q8_0: "Q8_0"
        }
    }

    /// Bits each code takes in ``QuantizedWeight/codes``.
    public var bitsPerCode: Int { 8 }

    /// `per-channel`, `per-group(128)`, `q8_0`: how reports name the scheme.
    public var description: String {
        switch self {
        case .symmetricInt8(let granularity): granularity.description
        case .q8_0: "q8_0"
        }
    }

    /// Why this scheme cannot hold a tensor of `shape`, or `nil` when it can.
    ///
    /// Symmetric INT8 holds any shape (per group falls back to per channel when the size does
    /// not divide the rows: see ``effectiveGranularity(for:requested:)``); Q8_0 needs rows whose
    /// length is a multiple of 32.
    public func unsupportedReason(for shape: [Int]) -> String? {
        switch self {
        case .symmetricInt8(let granularity):
            if case .perGroup(let size) = granularity, size <= 0 { return "group size \(size) is not positive" }
            return nil
        case .q8_0:
            let rowLength = shape.last ?? 1
            guard rowLength % Self.q8_0BlockLength == 0 else {
                return "Q8_0 needs rows that are a multiple of \(Self.q8_0BlockLength) long, and its rows are \(rowLength)"
            }
            return nil
        }
    }

    /// The scheme actually applied to a tensor of `shape`: per group falls back to per channel
    /// when the group size does not divide the row length; other schemes are unchanged.
    public func effective(for shape: [Int]) -> QuantizationDescriptor {
        if case .symmetricInt8(let granularity) = self {
            return .symmetricInt8(effectiveGranularity(for: shape, requested: granularity))
        }
        return self
    }

    /// The number of scales a tensor of `shape` has under the effective scheme.
    public func scaleCount(for shape: [Int]) -> Int {
        let count = shape.checkedElementCount ?? 0
        switch effective(for: shape) {
        case .symmetricInt8(let granularity): return SwiftQuantCore.scaleCount(shape: shape, granularity: granularity)
        case .q8_0: return count / Self.q8_0BlockLength
        }
    }

    /// Bytes the codes of `elementCount` values take.
    public func codeByteCount(elementCount: Int) -> Int {
        (elementCount * bitsPerCode + 7) / 8
    }
}

/// A quantized weight: its shape, the scheme that made it, the codes and their Float32 scales.
///
/// This one value is what schemes produce, writers store, readers hand out
/// (``TensorSource/quantizedWeight(for:)``) and `QuantizedLinear` runs on. The codes are
/// row-major; with 8-bit codes byte `i` is the signed code of element `i`. The scales are one
/// per block of consecutive codes (``QuantizationDescriptor``), row-major; dequantizing is
/// `code × scale` for every scheme.
///
/// The codes may be a zero-copy view into a memory-mapped file: the value keeps the file
/// mapped for as long as it (or a copy) lives.
public struct QuantizedWeight: Sendable, Equatable {
    /// Row-major shape.
    public let shape: [Int]
    /// The scheme, already effective for `shape` (per group never stands for a fallen-back per channel).
    public let scheme: QuantizationDescriptor
    /// The packed codes, ``QuantizationDescriptor/codeByteCount(elementCount:)`` bytes.
    public let codes: SharedBytes
    /// One Float32 scale per block, row-major.
    public let scales: [Float]

    /// Checks that codes and scales fit `shape` under `scheme`.
    ///
    /// - Throws: ``KernelError/shapeMismatch(expected:elements:)`` when the code bytes or the
    ///   scale count do not fit, ``KernelError/invalidGroupSize(_:)`` for a non-positive group.
    public init(shape: [Int], scheme: QuantizationDescriptor, codes: SharedBytes, scales: [Float]) throws(KernelError) {
        guard let count = shape.checkedElementCount else { throw .shapeMismatch(expected: shape, elements: codes.count) }
        if case .symmetricInt8(.perGroup(let size)) = scheme, size <= 0 { throw .invalidGroupSize(size) }
        guard codes.count == scheme.codeByteCount(elementCount: count) else {
            throw .shapeMismatch(expected: shape, elements: codes.count * 8 / scheme.bitsPerCode)
        }
        guard scheme.effective(for: shape) == scheme, scheme.unsupportedReason(for: shape) == nil,
              scales.count == scheme.scaleCount(for: shape) || (count == 0 && scales.count <= 1)
        else {
            throw .shapeMismatch(expected: shape, elements: count)
        }
        self.shape = shape
        self.scheme = scheme
        self.codes = codes
        self.scales = scales
    }

    /// Int8 codes copied from an array (symmetric INT8 or Q8_0).
    public init(shape: [Int], scheme: QuantizationDescriptor, int8Codes: [Int8], scales: [Float]) throws(KernelError) {
        try self.init(shape: shape, scheme: scheme, codes: SharedBytes(copying: int8Codes), scales: scales)
    }

    /// For kernels that have just produced matching codes and scales.
    package init(unchecked shape: [Int], scheme: QuantizationDescriptor, codes: SharedBytes, scales: [Float]) {
        self.shape = shape
        self.scheme = scheme
        self.codes = codes
        self.scales = scales
    }

    /// The number of weights.
    public var elementCount: Int { shape.reduce(1, *) }

    /// The scheme's granularity (per group of 32 for Q8_0).
    public var granularity: Granularity { scheme.granularity }

    /// The codes as Int8 values, copied: for schemes with 8-bit codes.
    public var int8Codes: [Int8] {
        precondition(scheme.bitsPerCode == 8, "int8Codes needs a scheme with 8-bit codes")
        return codes.elements(as: Int8.self)
    }

    /// Calls `body` with the Int8 codes in place (no copy), for schemes with 8-bit codes.
    public func withInt8Codes<Result, Failure: Error>(
        _ body: (UnsafeBufferPointer<Int8>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        precondition(scheme.bitsPerCode == 8, "withInt8Codes needs a scheme with 8-bit codes")
        return try codes.withUnsafeElements(of: Int8.self, body)
    }
}
