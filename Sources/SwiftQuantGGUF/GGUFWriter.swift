import SwiftQuantCore
import SwiftQuantKernels

/// Writes a GGUF v3 file that llama.cpp and gguf-py read, as tensors stream in.
///
/// - Quantized tensors arrive as Q8_0 weights (the only scheme it stores: see
///   ``storedScheme(forPlanned:)``), quantized by the converter bit-exact with ggml's
///   `quantize_row_q8_0_ref`, and are written as ggml blocks. These are ggml's semantics
///   (blocks of 32, fp16 scales, round half away from zero), not SwiftQuant's own INT8 format's.
///   Tensors whose rows are not a multiple of 32 long cannot be Q8_0; the converter's plan
///   adaptation (`adapted(to:)`) keeps them as F16 before anything is quantized.
/// - Kept tensors keep their dtype (F32, F16, BF16, F64, integer types, and ggml block types
///   from a GGUF source, byte for byte).
///
/// The header's size is known from the tensor names and shapes alone (types and offsets are
/// fixed-width), so ``begin(tensors:metadata:)`` reserves exactly that much, tensor data
/// streams in after it, and ``finish()`` writes the header once every type and offset is
/// known. Every tensor, the last one included, is padded to the alignment, as ggml reads it.
public final class GGUFWriter: TensorWriter {
    /// The standard keys this writer sets itself.
    public struct Options: Sendable {
        /// `general.architecture`: see ``GGUFWriter/Options/resolve(source:input:architecture:)``.
        public var architecture: String
        /// `general.name`.
        public var name: String
        /// `general.alignment`, a power of two; 32 is ggml's default.
        public var alignment: Int
        /// Key/values copied ahead of the converter's metadata with their exact types: a GGUF
        /// source's own entries (tokenizer, hyperparameters), without the keys set here.
        public var sourceEntries: [GGUFMetadataEntry]
        /// A GGUF source's `general.file_type`, kept when no tensor becomes Q8_0 (its block
        /// types, such as Q4_K, are then copied as they are).
        public var sourceFileType: UInt32?

        public init(
            architecture: String, name: String, alignment: Int = GGUFFormat.defaultAlignment,
            sourceEntries: [GGUFMetadataEntry] = [], sourceFileType: UInt32? = nil
        ) {
            self.architecture = architecture
            self.name = name
            self.alignment = alignment
            self.sourceEntries = sourceEntries
            self.sourceFileType = sourceFileType
        }
    }

    /// The keys the writer owns; copies from a source are dropped.
    static let reservedKeys: Set<String> = [
        "general.architecture", "general.name", "general.file_type", "general.quantization_version",
        "general.alignment",
    ]

    /// `general.file_type` values (llama.cpp's `llama_ftype`).
    enum FileType: UInt32 {
        case allF32 = 0
        case mostlyF16 = 1
        case mostlyQ8_0 = 7
        case mostlyBF16 = 32
    }

    public let output: AtomicOutputFile
    public let options: Options
    /// The type written for each tensor so far, in order.
    private var writtenTypes: [DType] = []

    private var entries: [GGUFMetadataEntry] = []
    private var expected: [TensorInfo] = []
    private var records: [GGUFHeaderEncoder.TensorRecord] = []
    private var headerSize = 0
    private var dataStart = 0
    private var position = 0
    /// The end of the bytes written so far; gaps before it are zeros (file holes).
    private var writtenEnd = 0

    public init(output: AtomicOutputFile, options: Options) {
        precondition(options.alignment > 0 && options.alignment & (options.alignment - 1) == 0)
        self.output = output
        self.options = options
    }

    /// Checks that GGUF can hold every tensor, then reserves the header.
    public func begin(tensors: [TensorInfo], metadata: [String: MetadataValue]) throws {
        for tensor in tensors {
            let bytes = tensor.name.utf8.count
            guard bytes <= GGUFFormat.maximumTensorNameBytes else {
                throw GGUFWriterError.tensorNameTooLong(tensor: tensor.name, bytes: bytes)
            }
            guard tensor.shape.count <= GGUFFormat.maximumDimensions else {
                throw GGUFWriterError.tooManyDimensions(tensor: tensor.name, shape: tensor.shape)
            }
            guard tensor.dtype.layout.ggmlType != nil else {
                throw GGUFWriterError.unsupportedDType(tensor: tensor.name, dtype: tensor.dtype)
            }
        }
        expected = tensors
        entries = composeEntries(metadata)
        records = tensors.map { .init(name: $0.name, shape: $0.shape, ggmlType: 0, offset: 0) }
        headerSize = GGUFHeaderEncoder.encode(entries: entries, tensors: records).count
        dataStart = aligned(headerSize)
        position = dataStart
    }

    public func write(_ tensor: ConvertedTensor) throws {
        let index = writtenTypes.count
        guard index < expected.count, expected[index].name.hasSameBytes(as: tensor.name) else {
            throw TensorWriterError.unexpectedTensor(name: tensor.name)
        }
        switch tensor.content {
        case .kept(let dtype, let bytes):
            try appendKept(tensor, index: index, dtype: dtype, ByteSlices(bytes, pieceSize: 64 << 20, release: tensor.releaseInputPages))
        case .keptSlices(let dtype, let pieces):
            try appendKept(tensor, index: index, dtype: dtype, pieces)
        case .quantized(let weight, _):
            try checkQ8_0(weight.scheme, tensor: tensor.name)
            try append(index: index, ggmlType: DType.q8_0.layout.ggmlType!, ByteSlices(byteCount: weight.scales.count * Q8_0.blockByteCount) {
                try Self.q8_0Blocks(weight).withBytes($0)
            })
            writtenTypes.append(.q8_0)
        case .quantizedSlices(let slices):
            // Q8_0 blocks hold their own scales, so each slice becomes its blocks at once.
            try checkQ8_0(slices.scheme, tensor: tensor.name)
            try append(index: index, ggmlType: DType.q8_0.layout.ggmlType!, ByteSlices(byteCount: slices.scaleCount * Q8_0.blockByteCount) { piece in
                _ = try slices.forEachSlice(gatheringScales: false) { try Self.q8_0Blocks($0).withBytes(piece) }
            })
            writtenTypes.append(.q8_0)
        }
    }

    private func appendKept(_ tensor: ConvertedTensor, index: Int, dtype: DType, _ bytes: ByteSlices) throws {
        guard let ggmlType = dtype.layout.ggmlType else {
            throw GGUFWriterError.unsupportedDType(tensor: tensor.name, dtype: dtype)
        }
        try append(index: index, ggmlType: ggmlType, bytes)
        writtenTypes.append(dtype)
    }

    private func checkQ8_0(_ scheme: QuantizationDescriptor, tensor: String) throws {
        guard scheme == .q8_0 else {
            throw TensorWriterError.unsupportedScheme(tensor: tensor, scheme: scheme, format: "GGUF")
        }
    }

    private static func q8_0Blocks(_ weight: QuantizedWeight) -> OwnedBytes {
        let blocks = OwnedBytes(count: weight.scales.count * Q8_0.blockByteCount)
        Q8_0.blocks(of: weight, into: blocks.mutableBytes)
        return blocks
    }

    /// Q8_0 only: the block type llama.cpp reads (symmetric INT8 has no ggml type).
    public func canStore(_ scheme: QuantizationDescriptor) -> Bool { scheme == .q8_0 }

    /// Every dtype with a ggml type, ggml block types included (a GGUF source's Q4_K stays Q4_K).
    public func canKeep(_ dtype: DType) -> Bool { dtype.layout.ggmlType != nil }

    /// Q8_0, whatever granularity the plan chose: GGUF has no per-channel INT8 type.
    public func storedScheme(forPlanned granularity: Granularity) -> QuantizationDescriptor { .q8_0 }

    public func finish() throws {
        guard writtenTypes.count == expected.count else {
            throw TensorWriterError.missingTensors(count: expected.count - writtenTypes.count)
        }
        if let index = entries.firstIndex(where: { $0.key == "general.file_type" }) {
            entries[index].value = .uint(UInt64(fileType()))
        }
        let header = GGUFHeaderEncoder.encode(entries: entries, tensors: records)
        guard header.count == headerSize else {
            throw TensorWriterError.headerTooLarge(bytes: header.count, reserved: headerSize)
        }
        try header.withUnsafeBytes { try output.write($0, at: 0) }
        writtenEnd = max(writtenEnd, headerSize)
        // Padding between the header and the data, and after the last tensor: ggml reads
        // each tensor's padded size, the last one's too.
        let padding = [UInt8](repeating: 0, count: dataStart - headerSize)
        try padding.withUnsafeBytes { try output.write($0, at: headerSize) }
        // Written explicitly, so that an empty last tensor's offset is inside the file too.
        let end = aligned(position)
        if end > writtenEnd {
            try [UInt8](repeating: 0, count: end - writtenEnd).withUnsafeBytes { try output.write($0, at: writtenEnd) }
        }
    }

    // MARK: - Implementation

    private func append(index: Int, ggmlType: UInt32, _ bytes: ByteSlices) throws {
        position = aligned(position)
        records[index].ggmlType = ggmlType
        records[index].offset = UInt64(position - dataStart)
        try bytes.forEachPiece { piece in
            guard !piece.isEmpty else { return }
            try output.write(piece, at: position)
            position += piece.count
            writtenEnd = position
        }
    }

    private func aligned(_ offset: Int) -> Int {
        (offset + options.alignment - 1) / options.alignment * options.alignment
    }

    /// Q8_0 when any tensor is Q8_0, else a GGUF source's own, else the float type holding
    /// the most values.
    private func fileType() -> UInt32 {
        if writtenTypes.contains(.q8_0) { return FileType.mostlyQ8_0.rawValue }
        if let own = options.sourceFileType { return own }
        var bytesByType: [DType: Int] = [:]
        for (index, dtype) in writtenTypes.enumerated() where dtype.isFloatingPoint {
            bytesByType[dtype, default: 0] += max(1, expected[index].elementCount)
        }
        // A tie goes to the lower ggml type number, so the header never depends on hash order.
        let rank = { (entry: (key: DType, value: Int)) in (entry.value, -Int(entry.key.layout.ggmlType ?? 0)) }
        switch bytesByType.max(by: { rank($0) < rank($1) })?.key {
        case .f16: return FileType.mostlyF16.rawValue
        case .bf16: return FileType.mostlyBF16.rawValue
        default: return FileType.allF32.rawValue
        }
    }

    /// The standard keys first (architecture leading, as llama.cpp writes it), then the
    /// source's typed entries, then the converter's metadata sorted by the keys' UTF-8 bytes.
    private func composeEntries(_ metadata: [String: MetadataValue]) -> [GGUFMetadataEntry] {
        var entries: [GGUFMetadataEntry] = [
            GGUFMetadataEntry(key: "general.architecture", type: .string, value: .string(options.architecture)),
            GGUFMetadataEntry(key: "general.name", type: .string, value: .string(options.name)),
            GGUFMetadataEntry(key: "general.file_type", type: .uint32, value: .uint(0)),
            GGUFMetadataEntry(key: "general.quantization_version", type: .uint32, value: .uint(2)),
            GGUFMetadataEntry(key: "general.alignment", type: .uint32, value: .uint(UInt64(options.alignment))),
        ]
        var keys = Set(entries.map(\.key))
        for entry in options.sourceEntries where keys.insert(entry.key).inserted {
            entries.append(entry)
        }
        // A GGUF source's values (or a Hugging Face folder's, converted) are already copied with
        // their types; the converter's `source.*` and `hf.*` string copies would only repeat them.
        let copiedSource = !options.sourceEntries.isEmpty
        for key in metadata.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            if key == "swiftquant.compression" || (copiedSource && (key.hasPrefix("source.") || key.hasPrefix("hf."))) { continue }
            if keys.insert(key).inserted { entries.append(GGUFMetadataEntry(key: key, converting: metadata[key]!)) }
        }
        return entries
    }
}

/// Why a checkpoint cannot be written as GGUF.
public enum GGUFWriterError: Error, Equatable, Sendable, CustomStringConvertible {
    case tensorNameTooLong(tensor: String, bytes: Int)
    case tooManyDimensions(tensor: String, shape: [Int])
    case unsupportedDType(tensor: String, dtype: DType)
    /// Neither the caller, a GGUF source, nor a `config.json` beside the input names the architecture.
    case unknownArchitecture(input: String)
    case invalidArchitecture(String)
    case unreadableConfig(path: String, reason: String)

    public var description: String {
        switch self {
        case .tensorNameTooLong(let tensor, let bytes):
            "tensor '\(printableInMessage(tensor))': its name is \(bytes) bytes, and GGUF (ggml) allows at most \(GGUFFormat.maximumTensorNameBytes); write the native format or safetensors instead"
        case .tooManyDimensions(let tensor, let shape):
            "tensor '\(printableInMessage(tensor))' has shape \(shape), and GGUF allows at most \(GGUFFormat.maximumDimensions) dimensions; write the native format or safetensors instead"
        case .unsupportedDType(let tensor, let dtype):
            "tensor '\(printableInMessage(tensor))' has dtype \(dtype.rawValue), which GGUF cannot store; write the native format or safetensors instead"
        case .unknownArchitecture(let input):
            "\(input): cannot tell the model architecture for general.architecture (no config.json with model_type beside it); name the architecture, e.g. llama"
        case .invalidArchitecture(let name):
            "'\(printableInMessage(name))' is not a valid architecture name; use lower-case letters, digits, '_' and '-', e.g. llama"
        case .unreadableConfig(let path, let reason):
            "\(path): cannot read model_type: \(reason); fix the file or name the architecture"
        }
    }
}
