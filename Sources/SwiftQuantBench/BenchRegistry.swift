import SwiftQuant
extension BenchCase {
    /// Every case `swiftquant bench` knows, in `--list` order. Add a group by writing
    /// `Bench/<Group>BenchCases.swift` with `static let <group>Cases: [BenchCase]` and
    /// appending it here.
    package static let all: [BenchCase] = quantizeCases + decodeCases + linearCases + miniLMCases + q8_0Cases + llamaCases
}
