/// The types a parameter accepts; argument checking, help and completion all read them.
public enum ParameterType: Sendable {
    case any, number, integer, string, bool, list
    /// A number (a count) or a percentage.
    case countOrPercent
    /// One of the named choices (given as strings).
    case choice([String])
    /// A host object of the given type name (`.instance(PoolObject.self)` spells it from the type).
    case object(String)
    /// One of several types.
    case oneOf([ParameterType])
    case function
    /// nil (for optional arguments: `.oneOf([.string, .nilValue])`).
    case nilValue

    public var text: String {
        switch self {
        case .any: "any"
        case .number: "number"
        case .integer: "integer"
        case .string: "string"
        case .bool: "bool"
        case .list: "list"
        case .countOrPercent: "count or percentage"
        case .choice(let c): c.map { "\"\($0)\"" }.joined(separator: "|")
        case .object(let t): t
        case .oneOf(let ts): ts.map(\.text).joined(separator: " or ")
        case .function: "function"
        case .nilValue: "nil"
        }
    }

    func accepts(_ v: Value) -> Bool {
        switch (self, v) {
        case (.any, _): return true
        case (.number, .number): return true
        case (.integer, .number(let d)): return d == d.rounded() && abs(d) < 1e15
        case (.string, .string): return true
        case (.bool, .bool): return true
        case (.list, .list), (.list, .range): return true
        case (.countOrPercent, .percent): return true
        case (.countOrPercent, .number(let d)): return d == d.rounded() && abs(d) < 1e15
        case (.choice(let c), .string(let s)): return c.contains(s)
        case (.object(let t), .object(let o)): return o.typeName == t
        case (.oneOf(let ts), _): return ts.contains { $0.accepts(v) }
        case (.function, .function), (.function, .builtin), (.function, .method): return true
        case (.nilValue, .null): return true
        default: return false
        }
    }
}

extension ParameterType {
    /// A host object of this type.
    public static func instance<T: LanguageObject>(_ type: T.Type) -> ParameterType { .object(T.typeName) }
}

public struct Parameter: Sendable {
    public var name: String
    public var type: ParameterType
    /// nil: required.
    public var defaultValue: Value?
    public var help: String
    public init(_ name: String, _ type: ParameterType, default value: Value? = nil, _ help: String = "") {
        self.name = name; self.type = type; self.defaultValue = value; self.help = help
    }
}

/// Arguments bound to a signature: every parameter has a value (given or default), already type-checked.
public struct Arguments {
    public let values: [String: Value]
    public let locations: [String: SourceLocation]
    public let callLocation: SourceLocation?

    public subscript(_ name: String) -> Value { values[name] ?? .null }
    public func number(_ name: String) -> Double { if case .number(let v) = self[name] { return v }; return .nan }
    public func int(_ name: String) -> Int { Int(number(name)) }
    public func string(_ name: String) -> String { if case .string(let s) = self[name] { return s }; return "" }
    public func bool(_ name: String) -> Bool { if case .bool(let b) = self[name] { return b }; return false }
    public func object<T>(_ name: String, as: T.Type) -> T? { if case .object(let o) = self[name] { return o as? T }; return nil }
    public func has(_ name: String) -> Bool { !(values[name]?.isNone ?? true) }
    /// A list argument as numbers (percentages as fractions of 1); an error naming the argument otherwise.
    public func numbers(_ name: String, nonEmpty: Bool = false) throws -> [Double] {
        guard let items = self[name].elements else { throw error(name, "a list of numbers is needed") }
        guard !nonEmpty || !items.isEmpty else { throw error(name, "the list is empty") }
        return try items.map { item in
            switch item {
            case .number(let d): return d
            case .percent(let p): return p / 100
            default: throw error(name, "a list of numbers is needed, found \(item.typeName)")
            }
        }
    }

    /// Whether the call gave this argument (rather than its default).
    public func given(_ name: String) -> Bool { locations[name] != nil }
    /// No arguments (for checks outside a call).
    public static let empty = Arguments(values: [:], locations: [:], callLocation: nil)

    /// An error pointing at the argument (or the call).
    public func error(_ name: String?, _ message: String) -> LanguageError {
        LanguageError(.argument, message, at: name.flatMap { locations[$0] } ?? callLocation)
    }
}

/// Something callable with a checked signature: a builtin function or an object's method.
public protocol Callable {
    var name: String { get }
    var parameters: [Parameter] { get }
}

extension Callable {
    public var signatureText: String {
        "(" + parameters.map { p in
            p.defaultValue.map { "\(p.name): \($0.isNone ? "nil" : $0.quoted)" } ?? p.name
        }.joined(separator: ", ") + ")"
    }

    /// A wrong value as the message names it: strings and numbers as written, anything else by its type.
    static func shown(_ v: Value) -> String {
        switch v {
        case .string, .number, .percent: return "\(article(v.typeName)) (\(v.quoted))"
        default: return article(v.typeName)
        }
    }

    /// What the user probably meant: a choice close to the string given, or a percentage for a fraction.
    static func hint(_ type: ParameterType, _ v: Value) -> String {
        func choices(_ t: ParameterType) -> [String] {
            switch t {
            case .choice(let c): return c
            case .oneOf(let ts): return ts.flatMap(choices)
            default: return []
            }
        }
        func takesPercent(_ t: ParameterType) -> Bool {
            switch t {
            case .countOrPercent: return true
            case .oneOf(let ts): return ts.contains(where: takesPercent)
            default: return false
            }
        }
        if case .string(let s) = v, let m = closestMatch(s, in: choices(type)) { return "; did you mean \"\(m)\"?" }
        if case .number(let d) = v, takesPercent(type), d != d.rounded(), d > 0 { return "; did you mean \(formatNumber(d))%?" }
        return ""
    }

    /// Binds positional then named arguments, fills defaults, checks types. Errors name the argument.
    func bind(_ given: [(label: String?, value: Value, location: SourceLocation)], call: SourceLocation?, owner: String) throws -> Arguments {
        var values: [String: Value] = [:], locations: [String: SourceLocation] = [:]
        var position = 0
        for arg in given {
            let param: Parameter
            if let label = arg.label {
                guard let p = parameters.first(where: { $0.name == label }) else {
                    let hint = closestMatch(label, in: parameters.map(\.name)).map { ", did you mean `\($0)`?" } ?? ""
                    let known = parameters.isEmpty ? " (it takes no arguments)" : hint.isEmpty ? " (it takes \(parameters.map { "`\($0.name)`" }.joined(separator: ", ")))" : ""
                    throw LanguageError(.argument, "unknown argument `\(label)` for \(owner)\(hint)\(known)", at: arg.location)
                }
                param = p
            } else {
                guard position < parameters.count else {
                    throw LanguageError(.argument, "\(owner) takes at most \(parameters.count) argument\(parameters.count == 1 ? "" : "s")", at: arg.location)
                }
                param = parameters[position]
                position += 1
            }
            guard values[param.name] == nil else { throw LanguageError(.argument, "argument `\(param.name)` is given twice", at: arg.location) }
            guard param.type.accepts(arg.value) || (arg.value.isNone && param.defaultValue?.isNone == true) else {
                throw LanguageError(.type, "argument `\(param.name)` of \(owner) must be \(article(param.type.text)), not \(Self.shown(arg.value))\(Self.hint(param.type, arg.value))", at: arg.location)
            }
            values[param.name] = arg.value
            locations[param.name] = arg.location
        }
        for p in parameters where values[p.name] == nil {
            guard let d = p.defaultValue else {
                throw LanguageError(.argument, "\(owner) needs argument `\(p.name)` (\(p.type.text))", at: call)
            }
            values[p.name] = d
        }
        return Arguments(values: values, locations: locations, callLocation: call)
    }
}

func article(_ word: String) -> String {
    guard let first = word.first else { return word }
    if word.hasPrefix("\"") { return "one of \(word)" }
    return ("aeiou".contains(first) ? "an " : "a ") + word
}

/// The host's context for a call: output, progress and cancellation.
public protocol LanguageHost: AnyObject {
    func print(_ text: String)
    /// Long-running work reports here (the REPL draws a progress bar or prints lines).
    func progress(_ text: String)
    var isCancelled: Bool { get }
    /// Rendering builtins (`table`) show their result here wherever they are called, in loops and functions too.
    func display(_ value: Value)
}

extension LanguageHost {
    public func display(_ value: Value) { print(value.description) }
}

public struct Builtin: Callable, @unchecked Sendable {
    public var name: String
    public var parameters: [Parameter]
    public var summary: String
    public var details: String
    /// The object type it returns, when help should list that type's members (groups may imply it).
    public var returns: String?
    /// Where `help` lists it (set from `Registry.group` when registered).
    public var group: HelpGroup?
    /// Its arguments reach it unevaluated, as functions of no arguments (`time(expr)` times the evaluation).
    public var deferredArguments = false
    public var run: (Arguments, Interpreter) throws -> Value
    public init(_ name: String, _ parameters: [Parameter], summary: String, details: String = "", returns: String? = nil,
                run: @escaping (Arguments, Interpreter) throws -> Value) {
        self.name = name; self.parameters = parameters; self.summary = summary; self.details = details; self.returns = returns; self.run = run
    }
}

/// A member of a host object type: a property (no parentheses) or a method (called with arguments).
public struct Member: Callable, @unchecked Sendable {
    public var name: String
    public var parameters: [Parameter]
    public var isProperty: Bool
    public var summary: String
    public var details: String
    public var run: (LanguageObject, Arguments, Interpreter) throws -> Value

    public static func property(_ name: String, _ summary: String, _ get: @escaping (LanguageObject) throws -> Value) -> Member {
        Member(name: name, parameters: [], isProperty: true, summary: summary, details: "", run: { o, _, _ in try get(o) })
    }
    public static func method(_ name: String, _ parameters: [Parameter], _ summary: String, details: String = "",
                              _ run: @escaping (LanguageObject, Arguments, Interpreter) throws -> Value) -> Member {
        Member(name: name, parameters: parameters, isProperty: false, summary: summary, details: details, run: run)
    }
}

/// A member of one object type, written against that type (no casts at the call sites): properties and methods
/// receive the object as a `T`.
public struct TypedMember<T: LanguageObject> {
    let member: Member

    public static func property(_ name: String, _ summary: String, _ get: @escaping (T) throws -> Value) -> TypedMember {
        TypedMember(member: .property(name, summary) { o in try get(try cast(o, name)) })
    }
    public static func method(_ name: String, _ parameters: [Parameter], _ summary: String, details: String = "",
                              _ run: @escaping (T, Arguments, Interpreter) throws -> Value) -> TypedMember {
        TypedMember(member: .method(name, parameters, summary, details: details) { o, args, interp in try run(try cast(o, name), args, interp) })
    }

    /// The registry finds members by the object's type name, so the object is a `T`; a second class claiming the
    /// same name is a programming error reported as a language error, not a crash.
    static func cast(_ o: LanguageObject, _ member: String) throws -> T {
        guard let t = o as? T else { throw LanguageError(.type, "`\(member)` belongs to \(T.typeName), not to this \(o.typeName)") }
        return t
    }
}

/// Every builtin and every member, registered once: help, completion and argument checking read it.
public final class Registry {
    public private(set) var builtins: [String: Builtin] = [:]
    public private(set) var members: [String: [String: Member]] = [:]
    public private(set) var typeSummaries: [String: String] = [:]

    /// The help group of the builtins registered next.
    public var group: HelpGroup = .basics

    public init() {}

    /// Registers a builtin under the current group (a builtin re-registered by a host keeps the group it had).
    public func register(_ b: Builtin) {
        var b = b
        if b.group == nil { b.group = builtins[b.name]?.group ?? group }
        builtins[b.name] = b
    }
    /// Registers an object type's members, written against the type.
    public func register<T: LanguageObject>(_ type: T.Type, summary: String, _ list: [TypedMember<T>]) {
        register(type: T.typeName, summary: summary, list.map(\.member))
    }

    public func register(type: String, summary: String, _ list: [Member]) {
        typeSummaries[type] = summary
        var table = members[type] ?? [:]
        for m in list { table[m.name] = m }
        members[type] = table
    }

    /// Help text for a builtin, a type, or `type.member`.
    public func help(_ topic: String?) -> String? {
        guard let topic, !topic.isEmpty else { return Help.overview(self) }
        if let b = builtins[topic] { return describe(b, b.summary, b.details) }
        if let text = typeHelp(topic) { return text }
        let parts = topic.split(separator: ".", maxSplits: 1).map(String.init)
        if parts.count == 2, let m = members[parts[0]]?[parts[1]] {
            return m.isProperty ? "\(topic): \(m.summary)" : describe(m, m.summary, m.details, prefix: parts[0] + ".")
        }
        return nil
    }

    /// A type's summary and its members.
    public func typeHelp(_ topic: String) -> String? {
        if let table = members[topic] {
            let width = (table.keys.map(\.count).max() ?? 8) + 2
            return "\(topic): \(typeSummaries[topic] ?? "")\n" + table.keys.sorted().map { name in
                let m = table[name]!
                return "  ." + (name + (m.isProperty ? "" : "(...)")).padding(toLength: width + 5, withPad: " ", startingAt: 0) + m.summary
            }.joined(separator: "\n")
        }
        return nil
    }

    func describe(_ c: Callable, _ summary: String, _ details: String, prefix: String = "") -> String {
        var out = "\(prefix)\(c.name)\(c.signatureText)\n  \(summary)"
        if !c.parameters.isEmpty {
            out += "\n  arguments:"
            for p in c.parameters {
                out += "\n    \(p.name): \(p.type.text)" + (p.defaultValue.map { " = \($0.isNone ? "nil" : $0.quoted)" } ?? " (required)")
                if !p.help.isEmpty { out += " - \(p.help)" }
            }
        }
        if !details.isEmpty { out += "\n\n" + details }
        return out
    }
}
