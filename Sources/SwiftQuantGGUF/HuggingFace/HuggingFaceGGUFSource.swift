import Foundation
import SwiftQuantCore
import SwiftQuantKernels

/// A Hugging Face model folder seen as the GGUF file llama.cpp's `convert_hf_to_gguf.py`
/// makes of it: GGUF tensor names, q/k rows permuted where the architecture needs it, 1-D
/// tensors and norms as F32 (what llama.cpp's kernels read), dropped buffers gone, generated
/// tensors added, and the hyperparameter and tokenizer entries in ``entries``.
///
/// Rules, plans and the GGUF writer see only GGUF names, so llama-quantize's never-quantize
/// rules and the `llama-quantize` preset apply unchanged. Tensors are read one at a time from
/// the underlying source; a permuted tensor is copied once, in its stored dtype.
public struct HuggingFaceGGUFSource: TensorSource {
    /// The checkpoint in the folder (safetensors, single or sharded).
    public let base: any TensorSource
    public let folder: HuggingFaceFolder
    /// `general.architecture`.
    public let ggufArchitecture: String
    /// Hyperparameters, then the tokenizer, with GGUF's value types.
    public let entries: [GGUFMetadataEntry]
    public let tensors: [TensorInfo]

    private enum Origin: Sendable {
        case checkpoint(name: String, transform: HuggingFaceTensorMapping.Transform, asF32: Bool)
        case generated([Float])
    }
    private let origins: [String: Origin]
    /// Each GGUF name's position in ``tensors``: look-ups answer from a dictionary, as the readers do.
    private let positions: [String: Int]

    public var path: String { base.path }
    public var formatName: String { base.formatName }
    public var metadata: [String: MetadataValue] { base.metadata }

    /// The GGUF view of `base`, a checkpoint in `folder`, converted by `architecture`.
    public init(base: any TensorSource, folder: HuggingFaceFolder, architecture: any HuggingFaceGGUFArchitecture) throws {
        self.base = base
        self.folder = folder
        ggufArchitecture = architecture.ggufArchitecture
        var tensors: [TensorInfo] = []
        var origins: [String: Origin] = [:]
        for generated in try architecture.generatedTensors(of: folder) {
            tensors.append(TensorInfo(name: generated.name, dtype: .f32, shape: generated.shape, byteCount: generated.values.count * 4))
            origins[generated.name] = .generated(generated.values)
        }
        for tensor in base.tensors {
            guard let mapping = try architecture.mapping(forTensor: tensor.name, shape: tensor.shape, in: folder) else { continue }
            if case .permuteRotaryRows(let heads) = mapping.transform {
                let rows = tensor.shape.first ?? 0
                guard heads > 0, rows % (2 * heads) == 0 else {
                    throw HuggingFaceGGUFError.tensorShape(
                        tensor: tensor.name, shape: tensor.shape, reason: "\(rows) rows do not split into \(heads) heads of rotary pairs")
                }
            }
            // As the converter: 1-D tensors and norms are F32, which llama.cpp's kernels read.
            let asF32 = (tensor.shape.count <= 1 || mapping.ggufName.hasSuffix("_norm.weight"))
                && tensor.dtype != .f32 && tensor.dtype.isDecodableFloat
            var info = tensor
            info.name = mapping.ggufName
            info.storage = nil
            if asF32 {
                info.dtype = .f32
                info.byteCount = tensor.elementCount * 4
            }
            guard origins[info.name] == nil else {
                throw HuggingFaceGGUFError.tensorShape(tensor: tensor.name, shape: tensor.shape, reason: "a second tensor maps to \(info.name)")
            }
            tensors.append(info)
            origins[info.name] = .checkpoint(name: tensor.name, transform: mapping.transform, asF32: asF32)
        }
        self.tensors = tensors
        self.origins = origins
        positions = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
        entries = try architecture.hyperparameters(of: folder) + architecture.tokenizer(of: folder)
    }

    public func info(for name: String) -> TensorInfo? {
        positions[name].map { tensors[$0] }
    }

    private func origin(_ name: String) throws -> Origin {
        guard let origin = origins[name] else { throw TensorSourceError.noSuchTensor(path: path, name: name) }
        return origin
    }

    public func data(for name: String) throws -> TensorData {
        let info = try self.info(for: name).unwrap(TensorSourceError.noSuchTensor(path: path, name: name))
        switch try origin(name) {
        case .generated(let values):
            return values.withUnsafeBytes { TensorData(info: info, copying: $0) }
        case .checkpoint(let source, let transform, let asF32):
            if asF32 {
                let values = try floats(for: name)
                return values.withUnsafeBytes { TensorData(info: info, copying: $0) }
            }
            let data = try base.data(for: source)
            guard case .permuteRotaryRows(let heads) = transform else {
                return TensorData(info: info, bytes: data.bytes, owner: data.owner)
            }
            let permuted = OwnedBytes(count: data.bytes.count)
            Self.permuteRotaryRows(data.bytes, into: permuted.mutableBytes, rows: info.shape.first ?? 0, heads: heads)
            return TensorData(info: info, bytes: permuted.bytes, owner: permuted)
        }
    }

    public func floats(for name: String) throws -> [Float] {
        switch try origin(name) {
        case .generated(let values):
            return values
        case .checkpoint(let source, let transform, _):
            let values = try base.floats(for: source)
            guard case .permuteRotaryRows(let heads) = transform else { return values }
            var out = [Float](repeating: 0, count: values.count)
            let rows = base.info(for: source)?.shape.first ?? 0
            values.withUnsafeBytes { input in
                out.withUnsafeMutableBytes { Self.permuteRotaryRows(input, into: $0, rows: rows, heads: heads) }
            }
            return out
        }
    }

    /// Quantized checkpoints are not converted to GGUF from a Hugging Face folder: their
    /// scales would need the same permutation. The converter decodes them to floats instead.
    public func quantizedWeight(for name: String) throws -> QuantizedWeight? { nil }

    public func releasePages(for name: String) {
        if case .checkpoint(let source, _, _)? = origins[name] { base.releasePages(for: source) }
    }

    /// `LlamaModel.permute`: within each head of `rows / heads` rows, output row `2i + j` is
    /// input row `j·half + i` (`half` = rows per head / 2). Rows are moved as whole byte runs,
    /// so any dtype works.
    static func permuteRotaryRows(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, rows: Int, heads: Int) {
        guard rows > 0, let source = input.baseAddress, let target = output.baseAddress else { return }
        let rowBytes = input.count / rows
        let perHead = rows / heads
        let half = perHead / 2
        for head in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let from = head * perHead + j * half + i
                    let to = head * perHead + 2 * i + j
                    (target + to * rowBytes).copyMemory(from: source + from * rowBytes, byteCount: rowBytes)
                }
            }
        }
    }
}

extension Optional {
    fileprivate func unwrap(_ error: @autoclosure () -> some Error) throws -> Wrapped {
        guard let self else { throw error() }
        return self
    }
}

extension HuggingFaceGGUFSource {
    /// The source as GGUF output sees it: for a checkpoint in a Hugging Face folder (a
    /// `config.json` with `architectures` beside it) and no architecture named by the caller,
    /// the GGUF view of it; otherwise `source` itself (a GGUF file, a checkpoint converted
    /// from GGUF, a named architecture, which writes the tensors under their own names).
    ///
    /// - Throws: ``HuggingFaceGGUFError/unsupportedArchitecture(config:architecture:supported:)``
    ///   for a model class with no mapping, and the mapping's errors.
    public static func view(
        of source: any TensorSource, input: String, architecture: String?,
        architectures: HuggingFaceGGUFArchitectures = .standard
    ) throws -> any TensorSource {
        if architecture != nil || source is GGUFFile || source is HuggingFaceGGUFSource { return source }
        if case .string(let format)? = source.metadata["general.source_format"], format.lowercased() == "gguf" { return source }
        let folderPath = isDirectory(input) ? input : (input as NSString).deletingLastPathComponent
        guard let folder = try HuggingFaceFolder(path: folderPath.isEmpty ? "." : folderPath) else { return source }
        guard let mapping = architectures.architecture(named: folder.architecture) else {
            throw HuggingFaceGGUFError.unsupportedArchitecture(
                config: folder.file("config.json"), architecture: folder.architecture, supported: architectures.supportedNames)
        }
        return try HuggingFaceGGUFSource(base: source, folder: folder, architecture: mapping)
    }
}
