import SwiftQuantCore
import SwiftQuantKernels

/// The int8 safetensors layout ``SafeTensorsWriter`` writes (compressed-tensors' convention):
/// a quantized tensor `NAME` as I8 in its shape, and `NAME_scale` as F32 whose shape says the
/// granularity: `[1]` per tensor, `[rows, 1]` per channel, `[rows, columns / size]` per group.
public enum SafeTensorsInt8Layout {
    /// The suffix of a scale tensor's name.
    public static let scaleSuffix = "_scale"

    /// The shape of the scale tensor of a weight of `shape` at `granularity`.
    public static func scaleShape(_ shape: [Int], _ granularity: Granularity) -> [Int] {
        let (rows, columns) = matrixView(of: shape)
        switch granularity {
        case .perTensor: return [1]
        case .perChannel: return [rows, 1]
        case .perGroup(let size): return [rows, columns / size]
        }
    }

    /// The granularity a scale of `scaleShape` stands for beside a weight of `shape`, or `nil`
    /// when it fits none. `[rows, 1]` reads as per channel (a group as long as the row is the
    /// same thing).
    public static func granularity(weightShape shape: [Int], scaleShape: [Int]) -> Granularity? {
        let (rows, columns) = matrixView(of: shape)
        if scaleShape == [1] { return .perTensor }
        guard scaleShape.count == 2, scaleShape[0] == rows, scaleShape[1] > 0 else { return nil }
        if scaleShape[1] == 1 { return .perChannel }
        guard columns % scaleShape[1] == 0 else { return nil }
        return .perGroup(size: columns / scaleShape[1])
    }

    /// `name` as a symmetric INT8 weight when `source` holds it in this layout (an I8 tensor
    /// with an F32 `<name>_scale` whose shape is a granularity's), else `nil`. The codes are a
    /// view into the source's map.
    static func weight(named name: String, in source: some TensorSource) throws -> QuantizedWeight? {
        guard let info = source.info(for: name), info.dtype == .i8,
              let scaleInfo = source.info(for: name + scaleSuffix), scaleInfo.dtype == .f32,
              let granularity = granularity(weightShape: info.shape, scaleShape: scaleInfo.shape)
        else { return nil }
        let codes = try source.data(for: name).shared
        let scales = try source.floats(for: name + scaleSuffix)
        do {
            return try QuantizedWeight(shape: info.shape, scheme: .symmetricInt8(granularity), codes: codes, scales: scales)
        } catch {
            // A per-group scale shape whose implied size the weight's rows cannot use.
            return nil
        }
    }
}

extension SafeTensorsFile {
    /// An I8 tensor with an F32 `<name>_scale` beside it (the int8 layout of
    /// ``SafeTensorsWriter``) as a `QuantizedWeight`; `nil` for every other tensor.
    public func quantizedWeight(for name: String) throws -> QuantizedWeight? {
        guard info(for: name) != nil else { throw TensorSourceError.noSuchTensor(path: path, name: name) }
        return try SafeTensorsInt8Layout.weight(named: name, in: self)
    }
}

extension ShardedSafeTensors {
    /// As ``SafeTensorsFile/quantizedWeight(for:)``; the scale may sit in another shard.
    public func quantizedWeight(for name: String) throws -> QuantizedWeight? {
        guard info(for: name) != nil else { throw TensorSourceError.noSuchTensor(path: path, name: name) }
        return try SafeTensorsInt8Layout.weight(named: name, in: self)
    }
}
