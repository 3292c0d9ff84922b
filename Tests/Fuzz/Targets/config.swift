import SwiftQuantCore
import SwiftQuantPlan
// libFuzzer target: the rules config parser (Yams, then the config schema), then the
// decision engine over a fixed set of tensor names, so parsed rules are also matched.

private let tensors: [TensorInfo] = [
    ("model.embed_tokens.weight", [32, 16]), ("model.layers.0.self_attn.q_proj.weight", [16, 16]),
    ("model.layers.1.mlp.down_proj.weight", [16, 64]), ("model.layers.1.input_layernorm.weight", [16]),
    ("lm_head.weight", [32, 16]), ("blk.3.attn_q.weight", [8, 32]), ("output.weight", [0, 16]),
].map { TensorInfo(name: $0.0, dtype: .f16, shape: $0.1, byteCount: $0.1.reduce(2, *)) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let config = try RulesConfig(text: text, path: "fuzz.yaml")
        let plan = QuantizationPlan(tensors: tensors, config: config)
        for unused in plan.unusedRules { _ = "\(unused)" }
    } catch {
        requireOneLine(error)
    }
    return 0
}
