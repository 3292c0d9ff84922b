import Testing
import SwiftQuant

@Suite("Name patterns")
struct NamePatternTests {
    func matches(_ pattern: String, _ name: String) throws -> Bool {
        try NamePattern(pattern).matches(name)
    }

    @Test func starMatchesAnyRunIncludingDots() throws {
        #expect(try matches("*", "model.layers.0.mlp.up_proj.weight"))
        #expect(try matches("*", ""))
        #expect(try matches("*.o_proj.weight", "model.layers.31.self_attn.o_proj.weight"))
        #expect(try matches("model.*.weight", "model.layers.3.mlp.down_proj.weight"))
        #expect(try matches("*mlp*", "model.layers.3.mlp.down_proj.weight"))
        #expect(try !matches("*.o_proj.weight", "model.layers.31.self_attn.o_proj.bias"))
        #expect(try !matches("*.o_proj.weight", "o_proj.weight"))
        #expect(try matches("a*b*c", "a.x.b.y.c"))
        #expect(try !matches("a*b*c", "a.x.b.y.cd"))
    }

    @Test func questionMarkMatchesExactlyOneCharacter() throws {
        #expect(try matches("model.layers.?.mlp.up_proj.weight", "model.layers.7.mlp.up_proj.weight"))
        #expect(try !matches("model.layers.?.mlp.up_proj.weight", "model.layers.12.mlp.up_proj.weight"))
        #expect(try matches("layers.??", "layers.12"))
        #expect(try !matches("layers.?", "layers."))
    }

    @Test func globsMatchTheWholeNameAndOtherCharactersLiterally() throws {
        #expect(try !matches("lm_head", "lm_head.weight"))
        #expect(try matches("lm_head.weight", "lm_head.weight"))
        #expect(try !matches("a.b", "aXb"))
        #expect(try matches("w[0]", "w[0]"))
        #expect(try !matches("mlp", "model.layers.0.mlp.up_proj.weight"))
    }

    @Test func regexMustMatchTheWholeName() throws {
        let pattern = #"re:model\.layers\.\d+\.mlp\.(gate|up)_proj\.weight"#
        #expect(try matches(pattern, "model.layers.12.mlp.gate_proj.weight"))
        #expect(try matches(pattern, "model.layers.0.mlp.up_proj.weight"))
        #expect(try !matches(pattern, "model.layers.0.mlp.down_proj.weight"))
        #expect(try !matches(pattern, "model.layers.0.mlp.up_proj.weight.extra"))
        #expect(try !matches(pattern, "prefix.model.layers.0.mlp.up_proj.weight"))
        // Unlike re.match or regex_search, a partial match is not a match.
        #expect(try !matches("re:layers", "model.layers.0.mlp"))
        #expect(try matches("re:.*layers.*", "model.layers.0.mlp"))
    }

    @Test func literalPatternsAreOnlyWildcardFreeGlobs() throws {
        #expect(try NamePattern("lm_head.weight").isLiteral)
        #expect(try !NamePattern("lm_head*").isLiteral)
        #expect(try !NamePattern("lm_head.weigh?").isLiteral)
        #expect(try !NamePattern(#"re:lm_head\.weight"#).isLiteral)
    }

    @Test func invalidPatternsAreRejected() {
        #expect(throws: NamePatternError.emptyGlob) { try NamePattern("") }
        #expect(throws: NamePatternError.emptyRegex) { try NamePattern("re:") }
        #expect {
            try NamePattern("re:model.(a|b")
        } throws: { error in
            guard case .invalidRegex(let message) = error as? NamePatternError else { return false }
            return !message.isEmpty
        }
    }

    @Test(arguments: [
        ("model.layers.12.mlp.up_proj.weight", 12),
        ("encoder.layer.5.attention.self.query.weight", 5),
        ("transformer.h.11.attn.c_attn.weight", 11),
        ("blocks.3.attn.qkv.weight", 3),
        ("blk.0.attn_q.weight", 0),
        ("vision_model.encoder.layers.23.mlp.fc1.weight", 23),
    ])
    func blockIndexFollowsEachPrefix(name: String, expected: Int) {
        #expect(blockIndex(in: name) == expected)
    }

    @Test(arguments: [
        "model.embed_tokens.weight", "lm_head.weight", "model.layers.x.mlp", "mlp.fc_h.0.weight",
        "model.layers.+1.mlp", "model.layers.-1.mlp", "layers", "model.layers.",
    ])
    func namesWithoutABlockIndex(name: String) {
        #expect(blockIndex(in: name) == nil)
    }
}
