import SwiftQuantCore
/// One `match` pattern: a glob over the whole dotted tensor name, or (with a `re:` prefix)
/// a regular expression that must match the whole name.
///
/// Globs: `*` matches any run of characters, dots included, and `?` matches exactly one
/// character; every other character, `.` and `[` included, matches itself. So
/// `"*.o_proj.weight"` matches `model.layers.3.self_attn.o_proj.weight`, and `"lm_head"`
/// matches only a tensor named exactly `lm_head` (write `"lm_head*"` for `lm_head.weight`).
///
/// Regular expressions use Swift `Regex` syntax and are anchored at both ends, like
/// torchao's `fullmatch`: `re:model\.layers\.\d+\.mlp\..*` matches the whole name or nothing.
public struct NamePattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written, `re:` prefix included.
    public let text: String
    private let kind: Kind

    private enum Kind: Sendable, Hashable {
        case glob([Character])
        case regex(CompiledRegex)
    }

    /// Parses `text`; throws the regex compiler's message when a `re:` pattern is invalid.
    public init(_ text: String) throws(NamePatternError) {
        self.text = text
        if text.hasPrefix("re:") {
            let source = String(text.dropFirst(3))
            guard !source.isEmpty else { throw .emptyRegex }
            do {
                kind = .regex(CompiledRegex(source: source, regex: try Regex(source)))
            } catch {
                throw .invalidRegex(message: "\(error)")
            }
        } else {
            guard !text.isEmpty else { throw .emptyGlob }
            kind = .glob(Array(text))
        }
    }

    /// Whether the pattern matches the whole of `name`.
    public func matches(_ name: String) -> Bool {
        switch kind {
        case .glob(let pattern): globMatches(pattern, Array(name))
        case .regex(let compiled): compiled.wholeMatches(name)
        }
    }

    /// Whether this pattern names one tensor exactly: a glob with no `*` or `?`.
    ///
    /// Only such a pattern may quantize a tensor that the built-in defaults keep by name
    /// (`lm_head`, embeddings): a broad `"*"` rule never un-skips them.
    public var isLiteral: Bool {
        if case .glob(let pattern) = kind { return !pattern.contains("*") && !pattern.contains("?") }
        return false
    }

    public var description: String { text }
}

/// Why a `match` pattern was rejected.
public enum NamePatternError: Error, Sendable, Hashable, CustomStringConvertible {
    case emptyGlob
    case emptyRegex
    case invalidRegex(message: String)

    public var description: String {
        switch self {
        case .emptyGlob: "an empty pattern matches no tensor; use \"*\" for every tensor"
        case .emptyRegex: "'re:' needs a regular expression after it"
        case .invalidRegex(let message): "invalid regular expression (\(message))"
        }
    }
}

/// A compiled `Regex` with value semantics by source text.
///
/// `Regex` is not `Sendable`, but a compiled regex is immutable and matching does not
/// mutate it, so sharing it across threads is safe.
private struct CompiledRegex: @unchecked Sendable, Hashable {
    let source: String
    let regex: Regex<AnyRegexOutput>

    func wholeMatches(_ name: String) -> Bool {
        (try? regex.wholeMatch(in: name)) != nil
    }

    static func == (lhs: CompiledRegex, rhs: CompiledRegex) -> Bool { lhs.source == rhs.source }
    func hash(into hasher: inout Hasher) { hasher.combine(source) }
}

/// Glob matching with `*` (any run, dots included) and `?` (one character).
///
/// The classic greedy algorithm with one backtrack point: linear in practice and
/// O(pattern × name) at worst, with no recursion.
private func globMatches(_ pattern: [Character], _ name: [Character]) -> Bool {
    var p = 0, n = 0
    var starPattern = -1, starName = 0
    while n < name.count {
        if p < pattern.count, pattern[p] == "?" || pattern[p] == name[n], pattern[p] != "*" {
            p += 1
            n += 1
        } else if p < pattern.count, pattern[p] == "*" {
            starPattern = p
            starName = n
            p += 1
        } else if starPattern >= 0 {
            p = starPattern + 1
            starName += 1
            n = starName
        } else {
            return false
        }
    }
    while p < pattern.count, pattern[p] == "*" { p += 1 }
    return p == pattern.count
}
