import SwiftQuantCore
import SwiftQuantKernels
import SwiftQuantNN

extension LlamaModel {
    /// A model of the given shape with seeded random Float32 weights (uniform, scaled by
    /// `1/√inFeatures` so activations stay in range through many layers), for tests and
    /// benchmarks that need a model without a checkpoint.
    ///
    /// - Throws: `LayerError` when the configuration's sizes do not fit together.
    public static func random(configuration c: LlamaConfiguration, seed: UInt64 = 0) throws -> LlamaModel {
        var generator = SeededGenerator(seed: seed)
        func values(_ count: Int, scale: Float) -> [Float] {
            (0..<count).map { _ in Float(generator.unit() * 2 - 1) * scale }
        }
        func dense(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = false) throws -> any LinearLayer {
            let scale = 1.7 / Float(inFeatures).squareRoot()
            return try Linear(
                weight: FloatTensor(uncheckedShape: [outFeatures, inFeatures], storage: values(outFeatures * inFeatures, scale: scale)),
                bias: bias ? values(outFeatures, scale: 0.1) : nil)
        }
        func norm() -> RMSNorm {
            RMSNorm(weight: values(c.hiddenSize, scale: 0.1).map { 1 + $0 }, epsilon: c.rmsNormEpsilon)
        }
        let h = c.hiddenSize, d = c.headDimension
        let rotary = RotaryEmbedding(dimension: d, base: c.ropeTheta, scaling: c.ropeScaling)
        var layers: [LlamaDecoderLayer] = []
        for _ in 0..<c.layerCount {
            let attention = try GroupedQueryAttention(
                query: try dense(h, c.headCount * d, bias: c.attentionBias),
                key: try dense(h, c.kvHeadCount * d, bias: c.attentionBias),
                value: try dense(h, c.kvHeadCount * d, bias: c.attentionBias),
                output: try dense(c.headCount * d, h),
                heads: c.headCount, kvHeads: c.kvHeadCount, headDimension: d, rotary: rotary)
            let mlp = try SwiGLU(gate: try dense(h, c.intermediateSize), up: try dense(h, c.intermediateSize),
                                 down: try dense(c.intermediateSize, h))
            layers.append(LlamaDecoderLayer(attentionNorm: norm(), attention: attention, mlpNorm: norm(), mlp: mlp))
        }
        let embedding = values(c.vocabularySize * h, scale: 1)
        let head: any LinearLayer = c.tieWordEmbeddings
            ? try Linear(weight: FloatTensor(uncheckedShape: [c.vocabularySize, h], storage: embedding))
            : try dense(h, c.vocabularySize)
        return LlamaModel(configuration: c, naming: .huggingFace, embedding: embedding, layers: layers, finalNorm: norm(), head: head)
    }
}
