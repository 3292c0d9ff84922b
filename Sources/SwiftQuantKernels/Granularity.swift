/// How many weights share one quantization scale.
public enum Granularity: Hashable, Sendable, CustomStringConvertible {
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
