import SwiftQuantCore
import SwiftQuantKernels

/// A checkpoint split over several safetensors files, read as one collection of tensors.
///
/// Open it with a folder or with the index file itself:
/// - a folder with `model.safetensors.index.json` (or exactly one other
///   `*.safetensors.index.json`) is read through the index's `weight_map`, loading the shards
///   `sorted(set(weight_map.values()))` as transformers does; other files are ignored;
/// - a folder without an index is read as every `*.safetensors` file in it, in name order.
///
/// Opening validates every shard (see ``SafeTensorsFile``) and cross-checks them against
/// the index: a missing shard, a tensor the index maps to a shard that lacks it, a tensor a
/// shard holds but the index does not map to it, and a name present in two shards are all
/// errors that name both the tensor and the shard.
///
/// ``metadata`` is the shards' `__metadata__` (the first shard wins where they disagree)
/// overlaid with the index's `metadata` object (`total_size` and the like).
public struct ShardedSafeTensors: TensorSource {
    /// The index's conventional name.
    public static let indexFileName = "model.safetensors.index.json"

    public let path: String
    public var formatName: String { "safetensors" }
    /// The index that was read, or `nil` for a folder without one.
    public let indexPath: String?
    /// The shards, in the order they are read.
    public let shards: [SafeTensorsFile]
    /// Every tensor: shard by shard, each in its file's order.
    public let tensors: [TensorInfo]
    public let metadata: [String: MetadataValue]

    /// The shard (an index into ``shards``) holding each tensor.
    private let shardByTensor: [ByteExactName: Int]

    /// Opens a sharded checkpoint from a folder or from its index file.
    ///
    /// - Throws: ``SafeTensorsError`` for a bad index, a bad shard or a disagreement between
    ///   them; `FileError` when a file cannot be opened.
    public init(path: String) throws {
        self.path = path
        let folder: String
        if isDirectory(path) {
            folder = path
            indexPath = try Self.findIndex(in: path)
        } else {
            folder = parentFolder(of: path)
            indexPath = path
        }

        var shards: [SafeTensorsFile] = []
        var indexMetadata: [String: MetadataValue] = [:]
        if let indexPath {
            let index = try ShardIndex(path: indexPath)
            indexMetadata = index.metadata
            for shardName in index.shardNames {
                let shardPath = joinedPath(folder, shardName)
                guard fileExists(shardPath) else {
                    let tensor = index.weightMap.first { $0.shard == shardName }!.tensor
                    throw SafeTensorsError.missingShard(index: indexPath, shard: shardName, tensor: tensor)
                }
                shards.append(try SafeTensorsFile(path: shardPath))
            }
            let shardNumber = Dictionary(uniqueKeysWithValues: index.shardNames.enumerated().map { ($1, $0) })
            for (tensor, shardName) in index.weightMap where shards[shardNumber[shardName]!].info(for: tensor) == nil {
                throw SafeTensorsError.tensorMissingFromShard(index: indexPath, tensor: tensor, shard: shardName)
            }
            let mapped = Dictionary(index.weightMap.map { (ByteExactName($0.tensor), $0.shard) }, uniquingKeysWith: { first, _ in first })
            for (number, shard) in shards.enumerated() {
                for info in shard.tensors where mapped[ByteExactName(info.name)] != index.shardNames[number] {
                    throw SafeTensorsError.tensorNotInIndex(index: indexPath, tensor: info.name, shard: index.shardNames[number])
                }
            }
        } else {
            let names = try directoryEntries(folder).filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") }
            guard !names.isEmpty else { throw SafeTensorsError.noSafeTensorsFiles(folder: folder) }
            shards = try names.map { try SafeTensorsFile(path: joinedPath(folder, $0)) }
        }

        var tensors: [TensorInfo] = []
        var shardByTensor: [ByteExactName: Int] = [:]
        var metadata: [String: MetadataValue] = [:]
        for (number, shard) in shards.enumerated() {
            for info in shard.tensors {
                if let first = shardByTensor.updateValue(number, forKey: ByteExactName(info.name)) {
                    throw SafeTensorsError.duplicateTensorAcrossShards(
                        folder: indexPath ?? folder, tensor: info.name,
                        firstShard: fileName(of: shards[first].path), secondShard: fileName(of: shard.path))
                }
                tensors.append(info)
            }
            metadata.merge(shard.metadata) { first, _ in first }
        }
        metadata.merge(indexMetadata) { _, index in index }
        self.shards = shards
        self.tensors = tensors
        self.shardByTensor = shardByTensor
        self.metadata = metadata
    }

    /// The shard that holds `name`, or `nil` for an unknown name.
    public func shard(for name: String) -> SafeTensorsFile? {
        shardByTensor[ByteExactName(name)].map { shards[$0] }
    }

    public func info(for name: String) -> TensorInfo? {
        shard(for: name)?.info(for: name)
    }

    public func data(for name: String) throws -> TensorData {
        guard let shard = shard(for: name) else { throw TensorSourceError.noSuchTensor(path: path, name: name) }
        return try shard.data(for: name)
    }

    public func floats(for name: String) throws -> [Float] {
        guard let shard = shard(for: name) else { throw TensorSourceError.noSuchTensor(path: path, name: name) }
        // The scale of an int8-layout weight may sit in another shard: dequantized here.
        if info(for: name)?.dtype == .i8, let weight = try SafeTensorsInt8Layout.weight(named: name, in: self) {
            return dequantize(weight).storage
        }
        return try shard.floats(for: name)
    }

    public func releasePages(for name: String) {
        shard(for: name)?.releasePages(for: name)
    }

    /// `model.safetensors.index.json` in `folder`, else the only `*.safetensors.index.json`
    /// there (diffusers names its index after the model), else `nil`.
    private static func findIndex(in folder: String) throws(FileError) -> String? {
        let names = try directoryEntries(folder)
        if names.contains(indexFileName) { return joinedPath(folder, indexFileName) }
        let indexes = names.filter { $0.hasSuffix(".safetensors.index.json") && !$0.hasPrefix(".") }
        return indexes.count == 1 ? joinedPath(folder, indexes[0]) : nil
    }
}

/// A parsed and checked `model.safetensors.index.json`.
struct ShardIndex {
    /// Every (tensor, shard file) pair, in the index's order.
    var weightMap: [(tensor: String, shard: String)]
    /// The distinct shard files, sorted as transformers sorts them.
    var shardNames: [String]
    /// The index's `metadata` object.
    var metadata: [String: MetadataValue]

    init(path: String) throws {
        let file = try MappedFile(path: path)
        let root: JSONNode
        do {
            root = try JSONParser.parse(file.bytes)
        } catch {
            throw SafeTensorsError.invalidIndex(path: path, offset: error.offset, reason: error.reason)
        }
        guard case .object(let members) = root.value else {
            throw SafeTensorsError.invalidIndex(path: path, offset: root.offset, reason: "the document is \(root.typeDescription), not an object")
        }
        var weightMapNode: JSONNode?
        var metadataNode: JSONNode?
        for member in members {
            switch member.key {
            case "weight_map":
                guard weightMapNode == nil else {
                    throw SafeTensorsError.invalidIndex(path: path, offset: member.keyOffset, reason: "\"weight_map\" appears twice")
                }
                weightMapNode = member.value
            case "metadata":
                metadataNode = member.value
            default:
                continue
            }
        }
        guard let weightMapNode else {
            throw SafeTensorsError.invalidIndex(path: path, offset: 0, reason: "no \"weight_map\"")
        }
        guard case .object(let entries) = weightMapNode.value else {
            throw SafeTensorsError.invalidIndex(path: path, offset: weightMapNode.offset, reason: "\"weight_map\" is \(weightMapNode.typeDescription), not an object")
        }
        var weightMap: [(tensor: String, shard: String)] = []
        var seen = Set<ByteExactName>()
        for entry in entries {
            guard case .string(let shard) = entry.value.value else {
                throw SafeTensorsError.invalidIndex(path: path, offset: entry.value.offset, reason: "tensor \(quotedName(entry.key)) maps to \(entry.value.typeDescription), not a shard file name")
            }
            guard seen.insert(ByteExactName(entry.key)).inserted else {
                throw SafeTensorsError.invalidIndex(path: path, offset: entry.keyOffset, reason: "tensor \(quotedName(entry.key)) appears twice in \"weight_map\"")
            }
            let components = shard.split(separator: "/", omittingEmptySubsequences: false)
            guard !shard.isEmpty, !shard.hasPrefix("/"), !components.contains("..") else {
                throw SafeTensorsError.shardOutsideFolder(index: path, shard: shard)
            }
            weightMap.append((entry.key, shard))
        }
        self.weightMap = weightMap
        shardNames = Set(weightMap.map(\.shard)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }

        var metadata: [String: MetadataValue] = [:]
        if let metadataNode, case .object(let items) = metadataNode.value {
            for item in items {
                if let value = item.value.metadataValue { metadata[item.key] = value }
            }
        }
        self.metadata = metadata
    }
}

extension JSONNode {
    /// The value as metadata: strings, integers, floats, booleans and arrays of them;
    /// `nil` for null and objects, which metadata cannot hold.
    var metadataValue: MetadataValue? {
        switch value {
        case .string(let text): return .string(text)
        case .bool(let flag): return .bool(flag)
        case .number(let text):
            if let value = UInt64(text) { return .uint(value) }
            if let value = Int64(text) { return .int(value) }
            return Double(text).map { .float($0) }
        case .array(let elements):
            let values = elements.compactMap(\.metadataValue)
            return values.count == elements.count ? .array(values) : nil
        case .object, .null: return nil
        }
    }
}
