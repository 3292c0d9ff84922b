import SwiftQuantCore
import SwiftQuantKernels

/// Writes a safetensors file as tensors stream in: quantized tensors either as INT8 with a
/// `NAME_scale` Float32 tensor beside them (compressed-tensors' convention) or dequantized to
/// floats. Kept tensors are written unchanged.
///
/// Like the checkpoint writer it reserves the JSON header up front (an upper bound, padded with
/// spaces as safetensors allows) and fills it in at the end, so no tensor is held in memory
/// after it is written.
public final class SafeTensorsWriter: TensorWriter {
    public enum Layout: Sendable, Hashable {
        /// `NAME` as I8 in its shape, `NAME_scale` as F32: `[1]` per tensor, `[rows, 1]` per
        /// channel, `[rows, columns / group]` per group.
        case int8
        /// `q × scale` as floats, in `dtype`, or in the tensor's source dtype when `nil`
        /// (F32 when the source was not a float type).
        case dequantized(DType?)
    }

    /// The suffix of a scale tensor's name.
    public static let scaleSuffix = SafeTensorsInt8Layout.scaleSuffix

    public let output: AtomicOutputFile
    public let layout: Layout
    private var metadata: [String: String] = [:]
    private var entries: [(name: String, dtype: DType, shape: [Int], range: Range<Int>)] = []
    private var headerReserve = 0
    private var position = 0

    public init(output: AtomicOutputFile, layout: Layout = .int8) {
        self.output = output
        self.layout = layout
    }

    /// The int8 layout holds symmetric INT8 (its scale shapes are the granularities); the
    /// dequantized layout holds any scheme, since it stores `code × scale`.
    public func canStore(_ scheme: QuantizationDescriptor) -> Bool {
        if case .dequantized = layout { return true }
        if case .symmetricInt8 = scheme { return true }
        return false
    }

    /// String metadata goes to `__metadata__` (with `format: pt`, which transformers requires);
    /// other values are written as their JSON text.
    public func begin(tensors: [TensorInfo], metadata: [String: MetadataValue]) throws {
        var strings: [String: String] = ["format": "pt"]
        for (key, value) in metadata {
            if case .string(let text) = value { strings[key] = text } else { strings[key] = value.json }
        }
        self.metadata = strings
        let names = Set(tensors.map { ByteExactName($0.name) })
        for tensor in tensors where names.contains(ByteExactName(tensor.name + Self.scaleSuffix)) {
            throw SafeTensorsWriterError.scaleNameTaken(tensor: tensor.name)
        }
        // Per tensor at most two entries; every number at most 20 digits.
        var reserve = 64 + metadataJSON().utf8.count
        for tensor in tensors {
            let quoted = jsonQuoted(tensor.name).utf8.count + Self.scaleSuffix.utf8.count
            let perEntry = quoted + 100 + 21 * max(tensor.shape.count, 2) + 2 * 21
            reserve += 2 * perEntry
        }
        headerReserve = (reserve + 7) / 8 * 8
        position = 8 + headerReserve
    }

    /// For writers that lay out entries of their own (model folders, whose MLX weights are
    /// three tensors each): reserves the header for entries with these names and ranks and
    /// sets `__metadata__` to `metadata` exactly. Follow with ``appendEntry(name:dtype:shape:bytes:release:)``
    /// and ``finish()``.
    package func begin(entries: [(name: String, rank: Int)], metadata: [String: String]) {
        self.metadata = metadata
        var reserve = 64 + metadataJSON().utf8.count
        for entry in entries {
            reserve += jsonQuoted(entry.name).utf8.count + 100 + 21 * max(entry.rank, 1) + 2 * 21
        }
        headerReserve = (reserve + 7) / 8 * 8
        position = 8 + headerReserve
    }

    /// Writes one entry's bytes as they are (see ``begin(entries:metadata:)``).
    package func appendEntry(
        name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, release: @escaping () -> Void = {}
    ) throws {
        try append(name: name, dtype: dtype, shape: shape, bytes: bytes, release: release)
    }

    /// Writes one entry's bytes as they arrive in pieces (see ``begin(entries:metadata:)``).
    package func appendEntry(name: String, dtype: DType, shape: [Int], pieces: ByteSlices) throws {
        try append(name: name, dtype: dtype, shape: shape, pieces)
    }

    /// The tensor bytes written so far (the file's size without its header).
    package var dataByteCount: Int { position - 8 - headerReserve }

    public func write(_ tensor: ConvertedTensor) throws {
        switch tensor.content {
        case .kept(let dtype, let bytes):
            try append(name: tensor.name, dtype: dtype, shape: tensor.shape, bytes: bytes, release: tensor.releaseInputPages)
        case .keptSlices(let dtype, let pieces):
            try append(name: tensor.name, dtype: dtype, shape: tensor.shape, pieces)
        case .quantized(let weight, _):
            try writeQuantized(tensor, scheme: weight.scheme, codeByteCount: weight.codes.count) { body in
                try body(weight)
                return weight.scales
            }
        case .quantizedSlices(let slices):
            try writeQuantized(tensor, scheme: slices.scheme, codeByteCount: slices.codeByteCount) { body in
                try slices.forEachSlice(body).scales
            }
        }
    }

    /// Writes a quantized tensor given as a whole weight or its slices: `slices` hands each to
    /// its argument in row order and returns the whole tensor's scales.
    private func writeQuantized(
        _ tensor: ConvertedTensor, scheme: QuantizationDescriptor, codeByteCount: Int,
        slices: @escaping ((QuantizedWeight) throws -> Void) throws -> [Float]
    ) throws {
        guard canStore(scheme) else {
            throw TensorWriterError.unsupportedScheme(tensor: tensor.name, scheme: scheme, format: "int8 safetensors")
        }
        switch layout {
        case .int8:
            var scales: [Float] = []
            try append(name: tensor.name, dtype: .i8, shape: tensor.shape, ByteSlices(byteCount: codeByteCount) { piece in
                scales = try slices { slice in try slice.codes.withUnsafeBytes { try piece($0) } }
            })
            try scales.withUnsafeBytes { scales in
                try append(
                    name: tensor.name + Self.scaleSuffix, dtype: .f32,
                    shape: SafeTensorsInt8Layout.scaleShape(tensor.shape, scheme.granularity), bytes: scales)
            }
        case .dequantized(let requested):
            let dtype = requested ?? (tensor.sourceDType.floatEncoding == nil ? .f32 : tensor.sourceDType)
            let encoding = dtype.floatEncoding ?? .float32
            let count = tensor.shape.checkedElementCount ?? 0
            try append(name: tensor.name, dtype: dtype, shape: tensor.shape, ByteSlices(byteCount: count * encoding.byteWidth) { piece in
                _ = try slices { slice in
                    let floats = dequantize(slice).storage
                    let encoded = OwnedBytes(count: floats.count * encoding.byteWidth)
                    floats.withUnsafeBufferPointer { encodeFloats($0, as: encoding, into: encoded.mutableBytes) }
                    try encoded.withBytes(piece)
                }
            })
        }
    }

    public func finish() throws {
        var json = "{\"__metadata__\":" + metadataJSON()
        for entry in entries {
            json += "," + jsonQuoted(entry.name) + ":{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":["
                + entry.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":["
                + "\(entry.range.lowerBound),\(entry.range.upperBound)]}"
        }
        json += "}"
        var header = Array(json.utf8)
        guard header.count <= headerReserve else {
            throw TensorWriterError.headerTooLarge(bytes: header.count, reserved: headerReserve)
        }
        header += [UInt8](repeating: 0x20, count: headerReserve - header.count)
        var front: [UInt8] = []
        front.appendLittleEndian(UInt64(headerReserve))
        front += header
        try front.withUnsafeBytes { try output.write($0, at: 0) }
    }

    private func metadataJSON() -> String {
        "{" + metadata.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).map { jsonQuoted($0) + ":" + jsonQuoted(metadata[$0]!) }.joined(separator: ",") + "}"
    }

    /// Writes in 64 MiB pieces, releasing the input pages read so far after each, so a huge
    /// kept tensor streams through without becoming resident.
    private func append(
        name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, release: @escaping () -> Void = {}
    ) throws {
        try append(name: name, dtype: dtype, shape: shape, ByteSlices(bytes, pieceSize: 64 << 20, release: release))
    }

    /// Writes an entry's bytes as they arrive, piece by piece.
    private func append(name: String, dtype: DType, shape: [Int], _ bytes: ByteSlices) throws {
        let start = position - 8 - headerReserve
        try bytes.forEachPiece { piece in
            try output.write(piece, at: position)
            position += piece.count
        }
        let end = position - 8 - headerReserve
        precondition(end - start == bytes.byteCount, "the pieces of '\(name)' do not add up to its byte count")
        entries.append((name, dtype, shape, start..<end))
    }
}

/// The shape of a scale tensor in the int8 layout.
public func scaleShape(_ shape: [Int], _ granularity: Granularity) -> [Int] {
    SafeTensorsInt8Layout.scaleShape(shape, granularity)
}

public enum SafeTensorsWriterError: Error, Equatable, Sendable, CustomStringConvertible {
    case scaleNameTaken(tensor: String)

    public var description: String {
        switch self {
        case .scaleNameTaken(let tensor):
            "tensor '\(printableInMessage(tensor))' cannot get a scale tensor '\(printableInMessage(tensor + SafeTensorsWriter.scaleSuffix))': that name is already a tensor; write the dequantized layout or the native format instead"
        }
    }
}
