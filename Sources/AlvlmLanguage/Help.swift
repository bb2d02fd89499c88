import Foundation

/// The groups `help` lists builtins under; every builtin belongs to one (its registration sets `Registry.group`).
public enum HelpGroup: String, CaseIterable, Sendable {
    case pools, models, strategies, trainers, experiments, labelling, plots, files, basics

    var title: String {
        switch self {
        case .pools: "pools (datasets)"
        case .models: "models"
        case .strategies: "strategies (what to label next)"
        case .trainers: "trainers (how the model adapts each round)"
        case .experiments: "experiments and comparisons"
        case .labelling: "labelling (people and files)"
        case .plots: "plots and pictures"
        case .files: "files (save, load, notebooks, arrays)"
        case .basics: "basics"
        }
    }

    /// The object type the builtins of a group return, when they all return the same one.
    var returns: String? {
        switch self {
        case .pools: "pool"
        case .models: "model"
        case .strategies: "strategy"
        default: nil
        }
    }
}

/// `help` and `vars` in every mode (REPL, -c, scripts, piped input, notebooks, the Jupyter kernel): the command
/// forms are rewritten to calls before parsing, and `help` resolves variables, groups, types and members.
public enum Help {
    /// A line that is only `help`, `vars`, `help TOPIC` or `TOPIC?` becomes the call; other lines stay as written.
    /// Lines keep their number, so errors still point at the right line.
    public static func rewrite(_ source: String) -> String {
        guard source.contains("help") || source.contains("vars") || source.contains("?") else { return source }
        return source.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let indent = line.prefix { $0 == " " || $0 == "\t" }
            var body = line.dropFirst(indent.count)
            while body.last == " " || body.last == "\t" || body.last == "\r" { body = body.dropLast() }
            if body == "help" || body == "vars" { return indent + body + "()" }
            if body.hasPrefix("help ") {
                var topic = body.dropFirst(5).trimmingCharacters(in: .whitespaces)
                if topic.count >= 2, topic.hasPrefix("\""), topic.hasSuffix("\"") { topic = String(topic.dropFirst().dropLast()) }
                if isTopic(topic) { return indent + "help(\"\(topic)\")" }
            }
            if body.count > 1, body.hasSuffix("?"), isTopic(String(body.dropLast())) { return indent + "help(\"\(body.dropLast())\")" }
            return String(line)
        }.joined(separator: "\n")
    }

    /// Names and dotted names (`cec`, `s.scores`, `experiment.step`).
    static func isTopic(_ s: String) -> Bool {
        guard let first = s.first, first.isLetter || first == "_" else { return false }
        return s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." } && !s.hasSuffix(".")
    }

    /// `help()` and `vars()`, registered by every host.
    public static func register(into r: Registry) {
        r.group = .basics
        r.register(Builtin("help", [Parameter("topic", .oneOf([.string, .nilValue]), default: .null, "a builtin, a group (e.g. strategies), a type, type.member, or a variable")],
                           summary: "help on builtins, groups, object types, members and variables (also: help NAME, NAME?)") { args, interp in
            let topic = args.has("topic") ? args.string("topic") : nil
            interp.host.print(try text(topic, interp, args))
            return .null
        })
        r.register(Builtin("vars", [], summary: "the variables defined so far, with their types") { _, interp in
            let vars = interp.variables
            interp.host.print(vars.isEmpty ? "no variables yet" : vars.map { "  \($0.name): \($0.value.typeName)" }.joined(separator: "\n"))
            return .null
        })
    }

    static func text(_ topic: String?, _ interp: Interpreter, _ args: Arguments) throws -> String {
        let registry = interp.registry
        guard let topic, !topic.isEmpty else { return overview(registry) }
        if let group = HelpGroup(rawValue: topic.lowercased()) ?? HelpGroup.allCases.first(where: { $0.rawValue.dropLast() == topic.lowercased() && registry.members[topic] == nil }) {
            return listing(group, registry)
        }
        if let b = registry.builtins[topic] {
            var out = registry.help(topic)!
            if let type = b.returns ?? b.group?.returns, let members = registry.typeHelp(type) {
                out += "\n\nreturns \(article(type)); " + members
            }
            return out
        }
        if let text = registry.help(topic) { return text }
        // A variable: its type's help (an object) or its value; `x.member` through the variable's type.
        let parts = topic.split(separator: ".", maxSplits: 1).map(String.init)
        if let value = interp.variable(parts[0]) {
            guard case .object(let o) = value else {
                return parts.count == 1 ? "\(parts[0]) is \(article(value.typeName)): \(value.description)" : "\(parts[0]) is \(article(value.typeName)), which has no members"
            }
            if parts.count == 2, let text = registry.help("\(o.typeName).\(parts[1])") { return text }
            if parts.count == 1, let text = registry.help(o.typeName) { return "\(parts[0]) is \(article(o.typeName))\n" + text }
            if parts.count == 2 {
                let hint = closestMatch(parts[1], in: Array(registry.members[o.typeName]?.keys ?? [:].keys)).map { "; did you mean `\(parts[0]).\($0)`?" } ?? ""
                throw args.error("topic", "\(parts[0]) is \(article(o.typeName)), which has no member `\(parts[1])`\(hint)")
            }
        }
        var names = Array(registry.builtins.keys) + Array(registry.members.keys) + HelpGroup.allCases.map(\.rawValue) + interp.variables.map(\.name)
        for (type, table) in registry.members { names += table.keys.map { "\(type).\($0)" } }
        // A near miss, else names that start with what was typed (`run` finds `run_notebook`).
        let near = closestMatch(topic, in: names).map { [$0] } ?? names.filter { $0.hasPrefix(topic) }.sorted().prefix(3).map { $0 }
        let hint = near.isEmpty ? "" : "; did you mean " + near.map { "`\($0)`" }.joined(separator: " or ") + "?"
        throw args.error("topic", "no help for `\(topic)`\(hint) (help lists every builtin by group)")
    }

    static func overview(_ registry: Registry) -> String {
        var out = HelpGroup.allCases.map { listing($0, registry) }.filter { !$0.isEmpty }.joined(separator: "\n\n")
        let types = registry.typeSummaries.keys.sorted()
        let width = (types.map(\.count).max() ?? 8) + 2
        out += "\n\nobject types (help TYPE lists their members):\n" + types.map { "  " + $0.padding(toLength: width, withPad: " ", startingAt: 0) + registry.typeSummaries[$0]! }.joined(separator: "\n")
        out += "\n\nlanguage: x = expr; f(a, name: v); obj.member; [lists]; {records}; 1..5 (5 left out), 1..=5 (5 included); 2%; if/else;"
        out += "\n  for x in xs { }; fn f(a) { return a }; _ is the last value shown; # comments; args holds a script's arguments"
        out += "\nhelp GROUP (e.g. help strategies), help NAME, NAME?, help obj.member, vars"
        return out
    }

    static func listing(_ group: HelpGroup, _ registry: Registry) -> String {
        let names = registry.builtins.keys.filter { registry.builtins[$0]!.group == group }.sorted()
        guard !names.isEmpty else { return "" }
        let width = max(16, (names.map(\.count).max() ?? 8) + 2)
        return group.title + ":\n" + names.map { "  " + $0.padding(toLength: width, withPad: " ", startingAt: 0) + registry.builtins[$0]!.summary }.joined(separator: "\n")
    }
}
