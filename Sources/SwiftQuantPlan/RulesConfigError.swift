import SwiftQuantCore

/// Why a rules config or a rule option was rejected. Each message is one line that names
/// the file and line (or the option), what is wrong and what was expected.
public enum RulesConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file could not be read (missing, a directory, not UTF-8).
    case cannotRead(path: String, reason: String)
    /// The text is not valid YAML or JSON.
    case malformedDocument(path: String, line: Int, problem: String)
    /// The file has no document (empty, or only comments).
    case emptyDocument(path: String)
    /// The document, or a rule, is not a mapping.
    case notAMapping(path: String, line: Int, what: String, found: String)
    /// A key the config does not define; usually a typo.
    case unknownKey(path: String, line: Int, key: String, section: String, expected: [String])
    /// The same key twice in one mapping: YAML would silently keep only one.
    case duplicateKey(path: String, line: Int, key: String)
    /// A value of the wrong type or out of range.
    case invalidValue(path: String, line: Int, key: String, found: String, expected: String)
    /// A `match` pattern that cannot match (empty, or a `re:` that does not compile).
    case invalidPattern(path: String, line: Int, pattern: String, problem: NamePatternError)
    /// A rule without `match`.
    case missingMatch(path: String, line: Int)
    /// A settings key that does nothing in a rule with this action.
    case ineffectiveSetting(path: String, line: Int, key: String, action: RuleAction)
    /// A `--skip` pattern that cannot match.
    case invalidSkipPattern(pattern: String, problem: NamePatternError)
    /// A bad value for a command-line rule option (`--skip`, `--granularity`, `--group-size`).
    case invalidOption(option: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .cannotRead(let path, let reason):
            return "\(path): cannot read the rules config: \(reason)"
        case .malformedDocument(let path, let line, let problem):
            return "\(path):\(line): not valid YAML or JSON: \(problem)"
        case .emptyDocument(let path):
            return "\(path): the rules config is empty; expected a mapping with keys such as 'granularity' and 'rules' (see Samples/rules-defaults.yaml)"
        case .notAMapping(let path, let line, let what, let found):
            return "\(path):\(line): \(what) must be a mapping of keys to values, not \(printableInMessage(found))"
        case .unknownKey(let path, let line, let key, let section, let expected):
            var message = "\(path):\(line): unknown key '\(printableInMessage(key))' in \(section); expected one of \(expected.joined(separator: ", "))"
            if let suggestion = closestSpelling(of: key, among: expected) {
                message += " (did you mean '\(suggestion)'?)"
            }
            return message
        case .duplicateKey(let path, let line, let key):
            return "\(path):\(line): key '\(printableInMessage(key))' appears twice in the same mapping; keep one"
        case .invalidValue(let path, let line, let key, let found, let expected):
            return "\(path):\(line): '\(printableInMessage(key))' is \(printableInMessage(found)); expected \(expected)"
        case .invalidPattern(let path, let line, let pattern, let problem):
            return "\(path):\(line): match pattern \(jsonQuoted(pattern)): \(problem)"
        case .missingMatch(let path, let line):
            return "\(path):\(line): the rule has no 'match'; add match: \"*\" to apply it to every tensor"
        case .ineffectiveSetting(let path, let line, let key, let action):
            return "\(path):\(line): '\(printableInMessage(key))' has no effect in a rule with action: \(action.rawValue); remove it or use action: quantize"
        case .invalidSkipPattern(let pattern, let problem):
            return "--skip \(jsonQuoted(pattern)): \(problem)"
        case .invalidOption(let option, let value, let expected):
            return "\(option) \(jsonQuoted(value)): expected \(expected)"
        }
    }
}

/// The expected key within edit distance 2 of `key`, for "did you mean" hints.
private func closestSpelling(of key: String, among candidates: [String]) -> String? {
    let best = candidates.map { ($0, editDistance(Array(key), Array($0))) }.min { $0.1 < $1.1 }
    guard let best, best.1 <= 2, best.1 < key.count else { return nil }
    return best.0
}

private func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...max(b.count, 1) where !b.isEmpty {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}
