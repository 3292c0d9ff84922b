/// The reference library's quantization error metrics.
///
/// Every difference is computed in Float32 from the Float32 input and `Float(q) × scale`;
/// sums are accumulated per fixed chunk and combined in Double in a fixed order, so the
/// metrics do not depend on the thread count.
public struct QuantizationErrorMetrics: Sendable, Equatable {
    /// max |w − dequantized|.
    public var maxAbsError: Float
    /// mean |w − dequantized|.
    public var meanAbsError: Float
    /// Largest |err| / |w| in percent, over the values with |w| > 10 % of max|w|.
    public var relativeErrorPercent: Float
    /// 10·log10(mean(w²) / (mean(err²) + 1e-10)).
    public var snrDecibels: Float

    public init(maxAbsError: Float, meanAbsError: Float, relativeErrorPercent: Float, snrDecibels: Float) {
        self.maxAbsError = maxAbsError
        self.meanAbsError = meanAbsError
        self.relativeErrorPercent = relativeErrorPercent
        self.snrDecibels = snrDecibels
    }

    /// The metrics of an empty tensor: no error, and the SNR the reference formula gives
    /// for a perfect reconstruction of a unit signal, 100 dB.
    public static let empty = QuantizationErrorMetrics(
        maxAbsError: 0, meanAbsError: 0, relativeErrorPercent: 0, snrDecibels: 100)
}
