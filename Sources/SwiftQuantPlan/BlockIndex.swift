import SwiftQuantCore
/// The dotted-name components that introduce a transformer block number:
/// `model.layers.3.…` (Llama), `encoder.layer.3.…` (BERT), `transformer.h.3.…` (GPT-2),
/// `blocks.3.…` and GGUF's `blk.3.…`.
public let blockPrefixes: Set<Substring> = ["layers", "layer", "h", "blocks", "blk"]

/// The block index in a tensor name: the number in the first component that follows one of
/// ``blockPrefixes``, or `nil` when the name has none (embeddings, heads, final norms).
public func blockIndex(in name: String) -> Int? {
    let components = name.split(separator: ".", omittingEmptySubsequences: false)
    var i = 0
    while i + 1 < components.count {
        if blockPrefixes.contains(components[i]),
           components[i + 1].allSatisfy({ ("0"..."9").contains($0) }),
           let number = Int(components[i + 1])
        {
            return number
        }
        i += 1
    }
    return nil
}
