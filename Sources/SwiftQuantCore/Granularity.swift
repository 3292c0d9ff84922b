/// How many weights share one quantization scale.
public enum Granularity: Hashable, Sendable, Codable, CustomStringConvertible {
    /// One scale for the whole tensor.
    case perTensor
    /// One scale per output row: a weight of shape `[rows, ...]` is treated as `[rows, rest]`.
    case perChannel
    /// One scale per run of `size` consecutive weights along each row (the input dimension).
    case perGroup(size: Int)

    /// The spelling used in configs, the CLI and JSON: `per-tensor`, `per-channel`, `per-group`.
    public var name: String {
        switch self {
        case .perTensor: "per-tensor"
        case .perChannel: "per-channel"
        case .perGroup: "per-group"
        }
    }

    /// The group size, or `nil` when the granularity is not per group.
    public var groupSize: Int? {
        if case .perGroup(let size) = self { return size }
        return nil
    }

    public var description: String {
        if case .perGroup(let size) = self { return "per-group(\(size))" }
        return name
    }
}

/// The number of scales `quantizeSymmetric(_:granularity:)` produces for `shape` at
/// `granularity`, after the per-group fallback of ``effectiveGranularity(for:requested:)``.
public func scaleCount(shape: [Int], granularity: Granularity) -> Int {
    let (rows, columns) = matrixView(of: shape)
    switch effectiveGranularity(for: shape, requested: granularity) {
    case .perTensor: return 1
    case .perChannel: return rows
    case .perGroup(let size): return rows * (columns / size)
    }
}

/// The granularity actually used: per group falls back to per channel when the row length is
/// not a multiple of the group size. Callers report the fallback as a notice.
public func effectiveGranularity(for shape: [Int], requested: Granularity) -> Granularity {
    if case .perGroup(let size) = requested {
        let columns = matrixView(of: shape).columns
        if size <= 0 || columns % size != 0 { return .perChannel }
    }
    return requested
}
