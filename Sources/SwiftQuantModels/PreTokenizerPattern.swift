import Foundation

/// The split regexes byte-level BPE tokenizers carry, scanned by hand.
///
/// `tokenizers` runs these patterns with Oniguruma: leftmost-first alternation, greedy
/// quantifiers, `\s` = Unicode `White_Space`, `\p{L}` / `\p{N}` = the general categories. Each
/// pattern here is a fixed alternation, so a scanner that tries the alternatives in order at
/// each position gives the same pieces, without a regex engine (Swift's `Regex` matches
/// grapheme clusters by default and is slow; it is kept only for patterns not listed here,
/// see ``SplitPattern/regex(_:)``).
enum SplitPattern: Sendable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// Llama-3 (`maximumDigits` 3) and Qwen2 (`maximumDigits` 1):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3(maximumDigits: Int)
    /// Any other pattern, through Swift's `Regex` on Unicode scalars.
    case regex(String)

    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The scanner for `pattern`: a hand-written one for the known patterns, else `Regex`.
    init(pattern: String) {
        switch pattern {
        case Self.gpt2Pattern: self = .gpt2
        case Self.llama3Pattern: self = .llama3(maximumDigits: 3)
        case Self.qwen2Pattern: self = .llama3(maximumDigits: 1)
        default: self = .regex(pattern)
        }
    }

    /// The half-open scalar ranges the pattern matches in `scalars`, in order. Text between
    /// matches (none for the known patterns, which match every character) is left to the caller.
    func matches(in scalars: [Unicode.Scalar]) -> [Range<Int>] {
        switch self {
        case .gpt2: return Self.scan(scalars, llama3: false, maximumDigits: .max)
        case .llama3(let digits): return Self.scan(scalars, llama3: true, maximumDigits: digits)
        case .regex(let pattern): return Self.regexMatches(pattern, in: scalars)
        }
    }

    private static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    private static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    private static func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

    private static func isNewline(_ s: Unicode.Scalar) -> Bool { s == "\r" || s == "\n" }

    /// `[^\s\p{L}\p{N}]`
    private static func isSymbol(_ s: Unicode.Scalar) -> Bool { !isSpace(s) && !isLetter(s) && !isNumber(s) }

    private static func scan(_ text: [Unicode.Scalar], llama3: Bool, maximumDigits: Int) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var start = 0
        let n = text.count
        func run(from i: Int, while predicate: (Unicode.Scalar) -> Bool) -> Int {
            var j = i
            while j < n && predicate(text[j]) { j += 1 }
            return j
        }
        while start < n {
            let end = matchAt(start)
            result.append(start ..< end)
            start = end
        }
        return result

        // The end of the match starting at `i` (always > i: the last alternatives match any character).
        func matchAt(_ i: Int) -> Int {
            let c = text[i]
            // 's 't 're 've 'm 'll 'd (case-insensitive for Llama-3 / Qwen2).
            if c == "'" && i + 1 < n {
                func lower(_ k: Int) -> Unicode.Scalar? {
                    guard k < n else { return nil }
                    let s = text[k]
                    if llama3, s.value >= 0x41 && s.value <= 0x5A { return Unicode.Scalar(s.value + 0x20) }
                    return s
                }
                let a = lower(i + 1), b = lower(i + 2)
                if a == "s" || a == "t" || a == "m" || a == "d" { return i + 2 }
                if (a == "r" || a == "v") && b == "e" { return i + 3 }
                if a == "l" && b == "l" { return i + 3 }
            }
            if llama3 {
                // [^\r\n\p{L}\p{N}]?\p{L}+
                if isLetter(c) { return run(from: i, while: isLetter) }
                if !isNewline(c) && !isLetter(c) && !isNumber(c) && i + 1 < n && isLetter(text[i + 1]) {
                    return run(from: i + 1, while: isLetter)
                }
                // \p{N}{1,maximumDigits}
                if isNumber(c) {
                    var j = i
                    while j < n && j - i < maximumDigits && isNumber(text[j]) { j += 1 }
                    return j
                }
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
                let symbolStart = (c == " " && i + 1 < n && isSymbol(text[i + 1])) ? i + 1 : i
                if isSymbol(text[symbolStart]) {
                    let j = run(from: symbolStart, while: isSymbol)
                    return run(from: j, while: isNewline)
                }
                // \s*[\r\n]+ : the whitespace run up to and including its last newline.
                let spaceEnd = run(from: i, while: isSpace)
                if let lastNewline = (i ..< spaceEnd).last(where: { isNewline(text[$0]) }) {
                    return lastNewline + 1
                }
                return whitespace(i, spaceEnd)
            } else {
                // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
                let body = (c == " " && i + 1 < n) ? i + 1 : i
                let b = text[body]
                if body == i + 1 || !isSpace(c) {
                    if isLetter(b) { return run(from: body, while: isLetter) }
                    if isNumber(b) { return run(from: body, while: isNumber) }
                    if isSymbol(b) { return run(from: body, while: isSymbol) }
                }
                return whitespace(i, run(from: i, while: isSpace))
            }
        }

        // `\s+(?!\S)|\s+` for the whitespace run i..<end: all of it at the end of the text,
        // else all but its last character (which then leads the next piece), else one character.
        func whitespace(_ i: Int, _ end: Int) -> Int {
            if end == n { return end }
            if end - i >= 2 { return end - 1 }
            return i + 1
        }
    }

    private static func regexMatches(_ pattern: String, in scalars: [Unicode.Scalar]) -> [Range<Int>] {
        guard let regex = try? Regex(pattern).matchingSemantics(.unicodeScalar) else { return [] }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        let text = String(view)
        // Scalar offset of each match, by counting scalars up to its bounds.
        var result: [Range<Int>] = []
        for match in text.matches(of: regex) where !match.range.isEmpty {
            let lower = text.unicodeScalars.distance(from: text.startIndex, to: match.range.lowerBound)
            let upper = lower + text.unicodeScalars.distance(from: match.range.lowerBound, to: match.range.upperBound)
            result.append(lower ..< upper)
        }
        return result
    }
}
