/// A name read from a file, made safe to quote inside a one-line error message: control
/// characters (line breaks above all) become escapes such as `\n` or `\u{1B}`, and very long
/// names are shortened. Files come from strangers; their names must not break the message.
public func printableInMessage(_ text: some StringProtocol, limit: Int = 200) -> String {
    var out = ""
    for scalar in text.unicodeScalars.prefix(limit) {
        switch scalar {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029:
            out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return text.unicodeScalars.count > limit ? out + "…" : out
}
