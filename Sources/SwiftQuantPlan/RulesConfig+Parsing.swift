import Foundation
import Yams
import SwiftQuantCore

extension RulesConfig {
    /// The keys a config's top level may have.
    public static let topLevelKeys = ["defaults", "granularity", "group_size", "keep_dtype", "rules"]
    /// The keys a rule may have.
    public static let ruleKeys = [
        "match", "layers", "min_elements", "dtypes", "action", "granularity", "group_size", "keep_dtype",
        "min_snr_db",
    ]

    /// Reads a YAML or JSON rules config. `path` is kept as spelled, for messages and reasons.
    public static func load(path: String) throws(RulesConfigError) -> RulesConfig {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .cannotRead(path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw .cannotRead(path: path, reason: "it is a directory") }
        // A FileHandle also reads pipes, so `--config <(generate-rules)` works.
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .cannotRead(path: path, reason: "permission denied")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.readToEnd() ?? Data()
        } catch {
            throw .cannotRead(path: path, reason: "\(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .cannotRead(path: path, reason: "not UTF-8 text")
        }
        return try RulesConfig(text: text, path: path)
    }

    /// Parses a YAML or JSON rules config; `path` names it in messages and reasons.
    public init(text: String, path: String) throws(RulesConfigError) {
        try Self.checkNesting(of: text, path: path)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw malformed(error, path: path, text: text)
        } catch {
            throw .malformedDocument(path: path, line: 1, problem: "\(error)")
        }
        guard let root, !(root.scalar.map(isNull) ?? false) else { throw .emptyDocument(path: path) }
        self = try ConfigParser(path: path).config(from: root)
    }
}

/// Turns Yams' multi-line errors into one line with the line number.
private func malformed(_ error: YamlError, path: String, text: String) -> RulesConfigError {
    func located(_ problem: String, _ mark: Mark, _ context: YamlError.Context?) -> RulesConfigError {
        var message = "\(problem) at column \(mark.column)"
        if let context { message += " (\(context.text) from line \(context.mark.line))" }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if mark.line - 1 < lines.count, lines[mark.line - 1].contains("\t") {
            message += "; YAML indents with spaces, not tabs"
        }
        return .malformedDocument(path: path, line: mark.line, problem: message)
    }
    switch error {
    case .scanner(let context, let problem, let mark, _),
         .parser(let context, let problem, let mark, _),
         .composer(let context, let problem, let mark, _):
        return located(problem, mark, context)
    case .reader(let problem, let offset, _, _):
        let line = offset.map { text.prefix($0).filter(\.isNewline).count + 1 } ?? 1
        return .malformedDocument(path: path, line: line, problem: problem)
    case .dataCouldNotBeDecoded:
        return .cannotRead(path: path, reason: "not UTF-8 text")
    default:
        let firstLine = "\(error)".split(separator: "\n").first.map(String.init) ?? "unreadable"
        return .malformedDocument(path: path, line: 1, problem: firstLine)
    }
}

/// The resolved tag of a node (`int`, `str`, `null`…): plain `5` is an int, `"5"` a string.
private func tagName(of node: Node) -> Tag.Name {
    Tag.Name(rawValue: node.tag.description)
}

private func isNull(_ scalar: Node.Scalar) -> Bool {
    tagName(of: .scalar(scalar)) == .null
}

/// Reads the composed document, with every check naming the line it fails on.
private struct ConfigParser {
    let path: String

    func config(from root: Node) throws(RulesConfigError) -> RulesConfig {
        let entries = try mapping(root, what: "the rules config", section: "the top level", keys: RulesConfig.topLevelKeys)
        var config = RulesConfig(path: path)
        for (key, value) in entries {
            switch key {
            case "defaults": config.useDefaults = try bool(value, key: key)
            case "granularity": config.granularity = try granularity(value, key: key)
            case "group_size": config.groupSize = try positiveInteger(value, key: key)
            case "keep_dtype": config.keepDType = try keepDType(value, key: key)
            case "rules":
                guard let sequence = value.sequence else {
                    if value.scalar.map(isNull) == true { continue }  // `rules:` with nothing under it
                    throw invalid(value, key: key, expected: "a list of rules, each starting with '- match:'")
                }
                for item in sequence { config.rules.append(try rule(from: item)) }
            default: break
            }
        }
        return config
    }

    func rule(from node: Node) throws(RulesConfigError) -> QuantizationRule {
        let entries = try mapping(node, what: "a rule", section: "a rule", keys: RulesConfig.ruleKeys)
        let line = line(of: node)
        guard let matchNode = entries.first(where: { $0.key == "match" })?.value else {
            throw .missingMatch(path: path, line: line)
        }
        var rule = QuantizationRule(patterns: try patterns(matchNode), origin: .file(path: path, line: line))
        var settingLines: [String: Int] = [:]
        for (key, value) in entries {
            settingLines[key] = self.line(of: value)
            switch key {
            case "match": break
            case "layers":
                rule.layers = try list(value, key: key, expected: "a block index or a list of them, such as [0, -1]") {
                    (item) throws(RulesConfigError) in try integer(item, key: key, expected: "block indices (integers; -1 is the last block)")
                }
            case "min_elements":
                let count = try integer(value, key: key, expected: "a number of elements, 0 or more")
                guard count >= 0 else { throw invalid(value, key: key, expected: "a number of elements, 0 or more") }
                rule.minElements = count
            case "dtypes":
                rule.dtypes = try list(value, key: key, expected: "a dtype or a list of them, such as [F16, BF16]") {
                    (item) throws(RulesConfigError) in try dtype(item, key: key)
                }
            case "action":
                rule.action = try choice(value, key: key, RuleAction.self)
            case "granularity": rule.granularity = try granularity(value, key: key)
            case "group_size": rule.groupSize = try positiveInteger(value, key: key)
            case "keep_dtype": rule.keepDType = try keepDType(value, key: key)
            case "min_snr_db":
                guard let scalar = value.scalar, [.int, .float].contains(tagName(of: value)),
                      let decibels = Double.construct(from: scalar), decibels.isFinite
                else { throw invalid(value, key: key, expected: "a number of decibels, such as 38") }
                rule.minimumSNRDecibels = Float(decibels)
            default: break
            }
        }
        if rule.action == .keep {
            for key in ["granularity", "group_size", "min_snr_db"] {
                if let settingLine = settingLines[key] {
                    throw .ineffectiveSetting(path: path, line: settingLine, key: key, action: .keep)
                }
            }
        }
        return rule
    }

    // MARK: Values

    func patterns(_ node: Node) throws(RulesConfigError) -> [NamePattern] {
        let expected = "a pattern or a list of patterns, such as \"*.o_proj.weight\" or 're:.*\\.mlp\\..*'"
        return try list(node, key: "match", expected: expected) { (item) throws(RulesConfigError) in
            guard let scalar = item.scalar, !isNull(scalar) else { throw invalid(item, key: "match", expected: expected) }
            do throws(NamePatternError) {
                return try NamePattern(scalar.string)
            } catch {
                throw .invalidPattern(path: path, line: line(of: item), pattern: scalar.string, problem: error)
            }
        }
    }

    func dtype(_ node: Node) throws(RulesConfigError) -> DType { try dtype(node, key: "dtypes") }

    func dtype(_ node: Node, key: String) throws(RulesConfigError) -> DType {
        let expected = "dtypes as safetensors spells them, such as F16, BF16, F32, I64"
        guard let scalar = node.scalar, let dtype = DType(rawValue: scalar.string.uppercased()) else {
            throw invalid(node, key: key, expected: expected)
        }
        return dtype
    }

    func granularity(_ node: Node, key: String) throws(RulesConfigError) -> GranularityKind {
        try choice(node, key: key, GranularityKind.self)
    }

    func keepDType(_ node: Node, key: String) throws(RulesConfigError) -> KeepDType {
        try choice(node, key: key, KeepDType.self)
    }

    /// One of an enum's spellings, compared without case.
    func choice<Choice: RawRepresentable & CaseIterable>(
        _ node: Node, key: String, _ type: Choice.Type
    ) throws(RulesConfigError) -> Choice where Choice.RawValue == String {
        let names = Choice.allCases.map(\.rawValue)
        let expected = names.dropLast().joined(separator: ", ") + " or " + names.last!
        guard let scalar = node.scalar, tagName(of: node) == .str,
              let value = Choice.allCases.first(where: { $0.rawValue == scalar.string.lowercased() })
        else { throw invalid(node, key: key, expected: expected) }
        return value
    }

    func bool(_ node: Node, key: String) throws(RulesConfigError) -> Bool {
        guard tagName(of: node) == .bool, let value = node.bool else {
            throw invalid(node, key: key, expected: "true or false")
        }
        return value
    }

    func integer(_ node: Node, key: String, expected: String) throws(RulesConfigError) -> Int {
        guard tagName(of: node) == .int, let value = node.int else { throw invalid(node, key: key, expected: expected) }
        return value
    }

    func positiveInteger(_ node: Node, key: String) throws(RulesConfigError) -> Int {
        let expected = "a positive integer, such as 128"
        let value = try integer(node, key: key, expected: expected)
        guard value > 0 else { throw invalid(node, key: key, expected: expected) }
        return value
    }

    /// A single value or a non-empty list of them.
    func list<Element>(
        _ node: Node, key: String, expected: String, _ element: (Node) throws(RulesConfigError) -> Element
    ) throws(RulesConfigError) -> [Element] {
        if let sequence = node.sequence {
            guard !sequence.isEmpty else { throw invalid(node, key: key, expected: expected) }
            var elements: [Element] = []
            for item in sequence { elements.append(try element(item)) }
            return elements
        }
        guard node.scalar != nil else { throw invalid(node, key: key, expected: expected) }
        return [try element(node)]
    }

    // MARK: Structure

    /// The mapping's entries in order, after checking every key is known and appears once.
    func mapping(
        _ node: Node, what: String, section: String, keys: [String]
    ) throws(RulesConfigError) -> [(key: String, value: Node)] {
        guard let mapping = node.mapping else {
            throw .notAMapping(path: path, line: line(of: node), what: what, found: describe(node))
        }
        var entries: [(key: String, value: Node)] = []
        for (keyNode, value) in mapping {
            let key = keyNode.scalar?.string ?? describe(keyNode)
            guard keys.contains(key) else {
                throw .unknownKey(path: path, line: line(of: keyNode), key: key, section: section, expected: keys)
            }
            guard !entries.contains(where: { $0.key == key }) else {
                throw .duplicateKey(path: path, line: line(of: keyNode), key: key)
            }
            entries.append((key, value))
        }
        return entries
    }

    func invalid(_ node: Node, key: String, expected: String) -> RulesConfigError {
        .invalidValue(path: path, line: line(of: node), key: key, found: describe(node), expected: expected)
    }

    func line(of node: Node) -> Int { node.mark?.line ?? 1 }

    /// How a value reads in a message: `0`, `"per-row"`, `a list`, `empty`.
    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            if isNull(scalar) { return "empty" }
            if tagName(of: node) == .str { return jsonQuoted(scalar.string) }
            return scalar.string
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }
}
