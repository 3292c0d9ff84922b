import Foundation
import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantSafeTensors

/// The model folders SwiftQuant writes for other runtimes to load as they are.
public enum ModelFolderLayout: String, Sendable, Hashable, CaseIterable {
    /// compressed-tensors' `naive-quantized` int8 layout, which transformers (and vLLM) load:
    /// `NAME` as I8 and `NAME_scale` as F32, `quantization_config` in config.json.
    case compressedTensors = "compressed-tensors"
    /// MLX's 8-bit affine groups, which mlx-lm and mlx-swift load: `weight` as uint32 (four
    /// `q + 128` bytes each), `scales` and `biases = −128 · scales`, `quantization` in config.json.
    case mlx

    /// `format` in each shard's `__metadata__`: transformers requires `pt`, mlx writes `mlx`.
    public var safetensorsFormat: String {
        switch self {
        case .compressedTensors: "pt"
        case .mlx: "mlx"
        }
    }
}

/// Writes a model folder: weights in safetensors shards (with `model.safetensors.index.json`
/// when there is more than one), the source's `config.json` with the runtime's quantization
/// block added, and the tokenizer and generation files copied from the source folder.
///
/// Everything goes into an `AtomicOutputFolder`: the folder appears whole on the caller's
/// `commit()` or not at all. Shards are filled in order up to ``Options/maxShardBytes`` (a
/// tensor larger than the limit gets a shard of its own), so memory stays bounded by the
/// tensor in hand as with every writer.
///
/// What each layout cannot express is refused with a ``ModelFolderError`` rather than written
/// as a folder that loads silently wrong: a quantized tensor that is not a 2-D `*.weight`
/// (runtimes quantize Linear layers), and for MLX a group size other than 32, 64 or 128
/// (``storedScheme(forPlanned:)`` maps the plan to the nearest one, so only a tensor whose
/// rows the group does not divide reaches that error).
public final class ModelFolderWriter: TensorWriter {
    /// Where the folder's pieces come from and how big its shards get.
    public struct Options: Sendable {
        /// The folder whose `config.json`, tokenizer and generation files are copied.
        public var sourceFolder: String
        /// The largest shard, in tensor bytes; transformers' default is 5 GB.
        public var maxShardBytes: Int

        public init(sourceFolder: String, maxShardBytes: Int = 5_000_000_000) {
            self.sourceFolder = sourceFolder
            self.maxShardBytes = maxShardBytes
        }
    }

    /// MLX's legal group sizes for 8 bits.
    public static let mlxGroupSizes = [32, 64, 128]
    /// mlx-lm's default group size, used for a plan per channel or per tensor.
    public static let mlxDefaultGroupSize = 64
    /// Files copied from the source folder when present: tokenizers of every kind, generation
    /// defaults, chat templates.
    public static let copiedFileNames = [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
        "vocab.txt", "vocab.json", "merges.txt", "tokenizer.model", "spiece.model",
        "sentencepiece.bpe.model", "generation_config.json", "chat_template.jinja", "chat_template.json",
        "preprocessor_config.json",
    ]

    public let output: AtomicOutputFolder
    public let layout: ModelFolderLayout
    public let options: Options

    private var tensors: [TensorInfo] = []
    private var tensorIndex = 0
    private var shardMetadata: [String: String] = [:]
    private var shard: (writer: SafeTensorsWriter, file: AtomicOutputFile)?
    private var shardCount = 0
    private var weightMap: [(name: String, shard: Int)] = []
    private var totalBytes = 0
    /// Module name → granularity, for quantized weights in write order.
    private var quantizedModules: [(module: String, granularity: Granularity)] = []
    /// Modules whose 2-D weight was kept in float (compressed-tensors' `ignore`).
    private var keptModules: [String] = []
    private var sourceConfig: [String: Any] = [:]

    public init(output: AtomicOutputFolder, layout: ModelFolderLayout, options: Options) {
        self.output = output
        self.layout = layout
        self.options = options
    }

    /// compressed-tensors stores symmetric INT8 at any granularity; MLX only groups of 32/64/128.
    public func canStore(_ scheme: QuantizationDescriptor) -> Bool {
        guard case .symmetricInt8(let granularity) = scheme else { return false }
        switch layout {
        case .compressedTensors: return true
        case .mlx:
            if case .perGroup(let size) = granularity { return Self.mlxGroupSizes.contains(size) }
            return false
        }
    }

    /// For MLX, the nearest legal group size: per group 32/64/128 as planned, another group
    /// size the nearest of those (ties to the smaller), per channel and per tensor mlx-lm's
    /// default of 64. The quantization then happens once, in the stored scheme.
    public func storedScheme(forPlanned granularity: Granularity) -> QuantizationDescriptor {
        guard layout == .mlx else { return .symmetricInt8(granularity) }
        return .symmetricInt8(.perGroup(size: Self.mlxGroupSize(forPlanned: granularity)))
    }

    /// The MLX group size a planned granularity is stored with (see ``storedScheme(forPlanned:)``).
    public static func mlxGroupSize(forPlanned granularity: Granularity) -> Int {
        guard case .perGroup(let size) = granularity else { return mlxDefaultGroupSize }
        return mlxGroupSizes.min { abs($0 - size) < abs($1 - size) } ?? mlxDefaultGroupSize
    }

    /// Reads the source's `config.json` (refusing a folder without one: no runtime loads
    /// weights without it) and reserves the first shard.
    public func begin(tensors: [TensorInfo], metadata: [String: MetadataValue]) throws {
        let configPath = joinedPath(options.sourceFolder, "config.json")
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw ModelFolderError.missingConfig(folder: options.sourceFolder)
        }
        guard let config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelFolderError.unreadableConfig(path: configPath)
        }
        sourceConfig = config
        self.tensors = tensors
        var strings: [String: String] = [:]
        for (key, value) in metadata {
            if case .string(let text) = value { strings[key] = text } else { strings[key] = value.json }
        }
        strings["format"] = layout.safetensorsFormat
        shardMetadata = strings
    }

    public func write(_ tensor: ConvertedTensor) throws {
        defer { tensorIndex += 1 }
        switch tensor.content {
        case .kept(let dtype, let bytes):
            // A view into the source's map: 64 MiB pieces with the pages read so far released between.
            try writeKept(tensor, dtype: dtype, ByteSlices(bytes, pieceSize: 64 << 20, release: tensor.releaseInputPages))
        case .keptSlices(let dtype, let pieces):
            try writeKept(tensor, dtype: dtype, pieces)
        case .quantized(let weight, _):
            try writeQuantized(tensor, scheme: weight.scheme, codeByteCount: weight.codes.count, scaleCount: weight.scales.count) { body in
                try body(weight)
                return weight.scales
            }
        case .quantizedSlices(let slices):
            try writeQuantized(tensor, scheme: slices.scheme, codeByteCount: slices.codeByteCount, scaleCount: slices.scaleCount) {
                try slices.forEachSlice($0).scales
            }
        }
    }

    private func writeKept(_ tensor: ConvertedTensor, dtype: DType, _ bytes: ByteSlices) throws {
        try placeInShard(byteCount: bytes.byteCount)
        try append(tensor.name, dtype, tensor.shape, bytes)
        if tensor.shape.count == 2, let module = Self.moduleName(ofWeight: tensor.name) { keptModules.append(module) }
    }

    /// Writes a quantized tensor given whole or in slices: `slices` hands each slice to its
    /// argument in row order and returns the whole tensor's scales.
    private func writeQuantized(
        _ tensor: ConvertedTensor, scheme: QuantizationDescriptor, codeByteCount: Int, scaleCount: Int,
        slices: @escaping ((QuantizedWeight) throws -> Void) throws -> [Float]
    ) throws {
        guard case .symmetricInt8(let granularity) = scheme, canStore(scheme) else {
            if layout == .mlx, case .symmetricInt8(let granularity) = scheme {
                throw ModelFolderError.mlxNeedsGroups(tensor: tensor.name, granularity: granularity, rowLength: tensor.shape.last ?? 0)
            }
            throw TensorWriterError.unsupportedScheme(tensor: tensor.name, scheme: scheme, format: layout.rawValue)
        }
        guard tensor.shape.count == 2, let module = Self.moduleName(ofWeight: tensor.name),
              layout == .mlx || !Self.looksLikeEmbedding(module)
        else {
            throw ModelFolderError.notALinearWeight(tensor: tensor.name, shape: tensor.shape, layout: layout)
        }
        quantizedModules.append((module, granularity))
        var scales: [Float] = []
        switch layout {
        case .compressedTensors:
            let scaleShape = SafeTensorsInt8Layout.scaleShape(tensor.shape, granularity)
            try placeInShard(byteCount: codeByteCount + 4 * scaleCount)
            try append(tensor.name, .i8, tensor.shape, ByteSlices(byteCount: codeByteCount) { piece in
                scales = try slices { slice in try slice.codes.withUnsafeBytes { try piece($0) } }
            })
            try scales.withUnsafeBytes { try append(tensor.name + SafeTensorsInt8Layout.scaleSuffix, .f32, scaleShape, ByteSlices($0)) }
        case .mlx:
            let rows = tensor.shape[0], columns = tensor.shape[1]
            let groups = [rows, scaleCount / max(rows, 1)]
            try placeInShard(byteCount: codeByteCount + 8 * scaleCount)
            try append(module + ".weight", .u32, [rows, columns / 4], ByteSlices(byteCount: codeByteCount) { piece in
                scales = try slices { slice in try Self.mlxPacked(slice).withBytes(piece) }
            })
            try scales.withUnsafeBytes { try append(module + ".scales", .f32, groups, ByteSlices($0)) }
            try Self.mlxBiases(scales).withUnsafeBytes { try append(module + ".biases", .f32, groups, ByteSlices($0)) }
        }
    }

    /// A symmetric INT8 weight as MLX's 8-bit affine form: each code `q` stored as the unsigned
    /// byte `q + 128` (the sign bit flipped), four to a little-endian uint32 with the first
    /// element in the lowest byte (mlx's packing order), and `biases = −128 · scales`, exact in
    /// Float32 (a multiplication by a power of two). Then `scales · (q + 128) + biases = scales · q`.
    public static func mlxAffine(_ weight: QuantizedWeight) -> (packed: OwnedBytes, biases: [Float]) {
        (mlxPacked(weight), mlxBiases(weight.scales))
    }

    /// The codes of `weight` (or of a slice) as MLX's unsigned bytes, four to a uint32.
    static func mlxPacked(_ weight: QuantizedWeight) -> OwnedBytes {
        let packed = OwnedBytes(count: weight.codes.count)
        weight.codes.withUnsafeBytes { codes in
            let out = packed.mutableBytes
            for index in 0..<codes.count { out[index] = codes[index] ^ 0x80 }
        }
        return packed
    }

    /// `−128 · scale` for every scale: MLX's biases for symmetric codes.
    static func mlxBiases(_ scales: [Float]) -> [Float] { scales.map { -128 * $0 } }

    public func finish() throws {
        if shard == nil && shardCount == 0 { try openShard() }
        try closeShard()
        // Final names once the count is known: one shard is model.safetensors, more are
        // model-0000i-of-0000n.safetensors with an index, as transformers names them.
        var names: [String] = []
        for index in 0..<shardCount {
            let name = shardCount == 1
                ? "model.safetensors"
                : "model-\(Self.padded(index + 1))-of-\(Self.padded(shardCount)).safetensors"
            try output.rename(Self.temporaryShardName(index), to: name)
            names.append(name)
        }
        if shardCount > 1 {
            var json = "{\n  \"metadata\": {\n    \"total_size\": \(totalBytes)\n  },\n  \"weight_map\": {\n"
            json += weightMap.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
                .map { "    " + jsonQuoted($0.name) + ": " + jsonQuoted(names[$0.shard]) }
                .joined(separator: ",\n")
            json += "\n  }\n}\n"
            try writeText(json, named: ShardedSafeTensors.indexFileName)
        }
        try writeText(try configJSON(), named: "config.json")
        for name in Self.copiedFileNames {
            let path = joinedPath(options.sourceFolder, name)
            if fileExists(path) { try output.copyFile(from: path, named: name) }
        }
    }

    /// The source's config with this layout's quantization block.
    public func configJSON() throws -> String {
        var config = sourceConfig
        switch layout {
        case .compressedTensors:
            config["quantization_config"] = try compressedTensorsBlock()
        case .mlx:
            config.removeValue(forKey: "quantization_config")
            config["quantization"] = mlxBlock()
        }
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// compressed-tensors' block (the only form measured to load right: every field matters).
    ///
    /// One granularity: one group targeting `Linear`. Several: one group per granularity
    /// targeting its modules by exact name (compressed-tensors matches a target against module
    /// names as well as classes). `ignore` lists every 2-D weight kept in float, so no Linear
    /// left in float is treated as quantized.
    func compressedTensorsBlock() throws -> [String: Any] {
        var order: [Granularity] = []
        var modulesByGranularity: [Granularity: [String]] = [:]
        for (module, granularity) in quantizedModules {
            if modulesByGranularity[granularity] == nil { order.append(granularity) }
            modulesByGranularity[granularity, default: []].append(module)
        }
        var groups: [String: Any] = [:]
        for (index, granularity) in order.enumerated() {
            var weights: [String: Any] = [
                "num_bits": 8, "type": "int", "symmetric": true, "dynamic": false,
            ]
            switch granularity {
            case .perTensor: weights["strategy"] = "tensor"
            case .perChannel: weights["strategy"] = "channel"
            case .perGroup(let size):
                weights["strategy"] = "group"
                weights["group_size"] = size
            }
            groups["group_\(index)"] = [
                "targets": order.count == 1 ? ["Linear"] : modulesByGranularity[granularity]!,
                "format": "naive-quantized",
                "weights": weights,
            ] as [String: Any]
        }
        // A model with tied embeddings has an lm_head Linear but no lm_head weight in the
        // files: unignored, compressed-tensors would expect it quantized (an ignore entry that
        // matches no module is harmless).
        var ignore = keptModules
        if !ignore.contains("lm_head") && !quantizedModules.contains(where: { $0.module == "lm_head" }) {
            ignore.append("lm_head")
        }
        return [
            "quant_method": "compressed-tensors",
            "quantization_status": "compressed",
            "format": "naive-quantized",
            "config_groups": groups,
            "ignore": ignore,
        ]
    }

    /// mlx-lm's block: the most common group size for the whole model, and a per-module entry
    /// (mlx-lm's per-layer form) for modules quantized with another one. Modules without
    /// `scales` stay in float: mlx-lm quantizes only layers whose scales the weights hold.
    func mlxBlock() -> [String: Any] {
        var counts: [Int: Int] = [:]
        for (_, granularity) in quantizedModules { counts[granularity.groupSize ?? 0, default: 0] += 1 }
        let main = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key
            ?? Self.mlxDefaultGroupSize
        var block: [String: Any] = ["group_size": main, "bits": 8]
        for (module, granularity) in quantizedModules where granularity.groupSize != main {
            block[module] = ["group_size": granularity.groupSize ?? main, "bits": 8]
        }
        return block
    }

    // MARK: Shards

    private static func temporaryShardName(_ index: Int) -> String { "shard-\(index).safetensors.partial" }

    private static func padded(_ number: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    /// Embedding tables by their usual names: compressed-tensors' `Linear` target does not
    /// cover them, so an int8 embedding would load as its codes cast to floats. (MLX quantizes
    /// embeddings itself, so its layout takes them.)
    static func looksLikeEmbedding(_ module: String) -> Bool {
        let last = module.split(separator: ".").last.map(String.init) ?? module
        return last.contains("embed") || last == "wte" || last == "wpe"
    }

    /// `x.weight` → `x`; `nil` for names that are not a module's weight.
    static func moduleName(ofWeight name: String) -> String? {
        guard name.hasSuffix(".weight"), name.count > ".weight".count else { return nil }
        return String(name.dropLast(".weight".count))
    }

    /// Starts a new shard when the current one has tensors and `byteCount` more would pass the limit.
    private func placeInShard(byteCount: Int) throws {
        if let current = shard, current.writer.dataByteCount > 0,
           current.writer.dataByteCount + byteCount > options.maxShardBytes {
            try closeShard()
        }
        if shard == nil { try openShard() }
    }

    /// The header is reserved for every tensor still to come in every form this layout may
    /// write it (an upper bound: unused room is padding, as safetensors allows).
    private func openShard() throws {
        let file = try output.file(named: Self.temporaryShardName(shardCount))
        let writer = SafeTensorsWriter(output: file)
        var entries: [(name: String, rank: Int)] = []
        for tensor in tensors[min(tensorIndex, tensors.count)...] {
            entries.append((tensor.name, max(tensor.shape.count, 2)))
            let module = Self.moduleName(ofWeight: tensor.name) ?? tensor.name
            switch layout {
            case .compressedTensors: entries.append((tensor.name + SafeTensorsInt8Layout.scaleSuffix, 2))
            case .mlx: entries += [(module + ".scales", 2), (module + ".biases", 2)]
            }
        }
        writer.begin(entries: entries, metadata: shardMetadata)
        shard = (writer, file)
        shardCount += 1
    }

    private func closeShard() throws {
        guard let current = shard else { return }
        shard = nil
        try current.writer.finish()
        try current.file.commit()
    }

    private func append(
        _ name: String, _ dtype: DType, _ shape: [Int], _ bytes: ByteSlices
    ) throws {
        guard let current = shard else { return }
        try current.writer.appendEntry(name: name, dtype: dtype, shape: shape, pieces: bytes)
        weightMap.append((name, shardCount - 1))
        totalBytes += bytes.byteCount
    }

    private func writeText(_ text: String, named name: String) throws {
        let file = try output.file(named: name)
        try Array(text.utf8).withUnsafeBytes { try file.write($0, at: 0) }
        try file.commit()
    }
}

/// A model folder the chosen layout cannot express, or cannot make.
public enum ModelFolderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The source folder has no `config.json`, without which no runtime loads the weights.
    case missingConfig(folder: String)
    /// `config.json` is not a JSON object.
    case unreadableConfig(path: String)
    /// A quantized tensor that is not a 2-D `NAME.weight`: runtimes quantize Linear layers only.
    case notALinearWeight(tensor: String, shape: [Int], layout: ModelFolderLayout)
    /// MLX stores groups of 32, 64 or 128 that divide the row; the weight is stored otherwise
    /// (a checkpoint quantized per channel, or a group size that fell back to per channel).
    case mlxNeedsGroups(tensor: String, granularity: Granularity, rowLength: Int)

    public var description: String {
        switch self {
        case .missingConfig(let folder):
            "\(folder): has no config.json; a model folder needs the model's config.json (give the model's folder as the source of its config)"
        case .unreadableConfig(let path):
            "\(path): is not a JSON object; a model folder needs the model's config.json"
        case .notALinearWeight(let tensor, let shape, let layout):
            "tensor '\(printableInMessage(tensor))' \(shape) is quantized, but \(layout.rawValue) runtimes quantize only Linear weights (2-D NAME.weight); keep it in float with a rule"
        case .mlxNeedsGroups(let tensor, let granularity, let rowLength):
            "tensor '\(printableInMessage(tensor))' is quantized \(granularity) (rows of \(rowLength)), but MLX stores 8-bit weights only in groups of 32, 64 or 128 that divide the row; quantize it per group with such a size from the float model, or keep it in float with a rule"
        }
    }
}
