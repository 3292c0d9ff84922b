import SwiftQuantCore
import SwiftQuantKernels

/// The keys and values one attention layer has seen, so that decoding a token attends to the
/// whole sequence without recomputing it.
///
/// Stored per key/value head, `[kvHeads, capacity, headDimension]`, so each head's keys are
/// contiguous for the score loop; capacity doubles when full (amortised O(1) appends).
public struct LayerKeyValueCache: Sendable {
    /// Key/value heads.
    public let kvHeads: Int
    /// Features per head.
    public let headDimension: Int
    /// Positions stored.
    public private(set) var count = 0
    private(set) var capacity: Int
    private(set) var keys: [Float]
    private(set) var values: [Float]

    /// An empty cache with room for `capacity` positions before it first grows.
    public init(kvHeads: Int, headDimension: Int, capacity: Int = 256) {
        self.kvHeads = kvHeads
        self.headDimension = headDimension
        self.capacity = max(1, capacity)
        keys = [Float](repeating: 0, count: kvHeads * self.capacity * headDimension)
        values = keys
    }

    /// Appends `rows` positions of keys and values, each `[rows, kvHeads × headDimension]`.
    package mutating func append(keys newKeys: [Float], values newValues: [Float], rows: Int) {
        if count + rows > capacity { grow(to: count + rows) }
        let d = headDimension
        let width = kvHeads * d
        keys.withUnsafeMutableBufferPointer { keyBuffer in
            values.withUnsafeMutableBufferPointer { valueBuffer in
                for row in 0..<rows {
                    for head in 0..<kvHeads {
                        let target = (head * capacity + count + row) * d
                        let source = row * width + head * d
                        for i in 0..<d {
                            keyBuffer[target + i] = newKeys[source + i]
                            valueBuffer[target + i] = newValues[source + i]
                        }
                    }
                }
            }
        }
        count += rows
    }

    /// Forgets every position (keeps the memory).
    public mutating func removeAll() { count = 0 }

    private mutating func grow(to needed: Int) {
        var newCapacity = capacity
        while newCapacity < needed { newCapacity *= 2 }
        let d = headDimension
        var newKeys = [Float](repeating: 0, count: kvHeads * newCapacity * d)
        var newValues = newKeys
        for head in 0..<kvHeads {
            for i in 0..<(count * d) {
                newKeys[head * newCapacity * d + i] = keys[head * capacity * d + i]
                newValues[head * newCapacity * d + i] = values[head * capacity * d + i]
            }
        }
        keys = newKeys
        values = newValues
        capacity = newCapacity
    }

    /// Runs `body` with the key and value storage and the per-head stride in floats.
    package func withStorage<R>(_ body: (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> R) -> R {
        keys.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in body(k.baseAddress!, v.baseAddress!, capacity * headDimension) }
        }
    }
}
