import SwiftQuantCore
extension RulesConfig {
    /// Configs nesting deeper than this are refused before YAML parsing. Yams builds nodes
    /// recursively, so a few kilobytes of `[[[[…` or `- - - …` would overflow the stack and
    /// crash; a real config nests four levels (top level, `rules`, a rule, its `match` list).
    static let maximumNesting = 100

    /// Throws when an upper bound of the nesting depth of `text` exceeds ``maximumNesting``.
    ///
    /// The bound never undercounts: flow depth counts every `[` and `{` outside quoted
    /// scalars and comments (a closer only counts inside flow, where plain scalars cannot hold
    /// one), and block depth on a line is at most twice its indentation plus its block
    /// indicators (`- `, `? `, `: `), since each nested block collection starts further right
    /// or compactly on the same line.
    static func checkNesting(of text: String, path: String) throws(RulesConfigError) {
        var flowDepth = 0
        var line = 1
        var indentation = 0
        var indicators = 0
        var atLineStart = true
        var quote: UInt8?
        var inComment = false
        var previous: UInt8 = 0x0A
        /// The last non-space byte, to tell a quote that opens a scalar from an apostrophe.
        var lastSignificant: UInt8 = 0x0A
        let bytes = Array(text.utf8)
        var index = 0
        func fail() -> RulesConfigError {
            .malformedDocument(
                path: path, line: line,
                problem: "nesting deeper than \(maximumNesting) levels; a rules config needs four (see Samples/rules-defaults.yaml)")
        }
        while index < bytes.count {
            let byte = bytes[index]
            defer {
                previous = byte
                if byte != 0x20 && byte != 0x09 { lastSignificant = byte }
                index += 1
            }
            if byte == 0x0A {
                line += 1
                indentation = 0
                indicators = 0
                atLineStart = true
                inComment = false
                continue
            }
            if inComment { continue }
            if let open = quote {
                if byte == open {
                    if open == UInt8(ascii: "'"), index + 1 < bytes.count, bytes[index + 1] == open {
                        index += 1  // '' is an escaped quote
                    } else {
                        quote = nil
                    }
                } else if open == UInt8(ascii: "\""), byte == UInt8(ascii: "\\") {
                    index += 1  // skip the escaped character
                }
                continue
            }
            if atLineStart && byte == 0x20 {
                indentation += 1
                continue
            }
            atLineStart = false
            let next = index + 1 < bytes.count ? bytes[index + 1] : 0x0A
            switch byte {
            case UInt8(ascii: "#") where previous == 0x20 || previous == 0x09 || previous == 0x0A:
                inComment = true
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                // A quote opens a scalar only where a scalar may start.
                if [0x0A, UInt8(ascii: ":"), UInt8(ascii: "-"), UInt8(ascii: "?"), UInt8(ascii: "["),
                    UInt8(ascii: "{"), UInt8(ascii: ","), UInt8(ascii: "!"), UInt8(ascii: "&")].contains(lastSignificant)
                    || previous == 0x20 {
                    quote = byte
                }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                flowDepth += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if flowDepth > 0 { flowDepth -= 1 }
            case UInt8(ascii: "-"), UInt8(ascii: "?"), UInt8(ascii: ":"):
                if next == 0x20 || next == 0x0A || next == 0x09 { indicators += 1 }
            default:
                break
            }
            if flowDepth + 2 * (indentation + 1) + indicators > maximumNesting { throw fail() }
        }
    }
}
