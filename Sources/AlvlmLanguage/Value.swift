import Foundation

/// An object the host exposes to the language (a pool, a model, a strategy, ...): it prints a summary and
/// answers members registered in its type's member table.
public protocol LanguageObject: AnyObject {
    /// The type name users see (`pool`, `model`, ...); also the key of its member table.
    static var typeName: String { get }
    /// A short, useful description for the REPL.
    var summary: String { get }
}

extension LanguageObject {
    /// This object's type name (its class's).
    public var typeName: String { Self.typeName }
}

/// An object that also has a Markdown form (a table), for hosts that show rich output (the Jupyter kernel).
public protocol MarkdownRepresentable {
    var markdown: String { get }
}

/// A user-defined function.
public final class UserFunction: @unchecked Sendable {
    public let name: String
    public let parameters: [String]
    let body: [Stmt]
    let closure: Environment
    init(name: String, parameters: [String], body: [Stmt], closure: Environment) {
        self.name = name; self.parameters = parameters; self.body = body; self.closure = closure
    }
}

public indirect enum Value: @unchecked Sendable {
    case number(Double)
    /// A percentage as written (`1%` holds 1).
    case percent(Double)
    case string(String)
    case bool(Bool)
    case null
    case list([Value])
    /// Integers lo..<hi (`1..4` is 1, 2, 3).
    case range(Int, Int)
    case record([(String, Value)])
    case function(UserFunction)
    case builtin(Builtin)
    case object(LanguageObject)
    case method(LanguageObject, Member)

    public var typeName: String {
        switch self {
        case .number: "number"
        case .percent: "percentage"
        case .string: "string"
        case .bool: "bool"
        case .null: "nil"
        case .list: "list"
        case .range: "range"
        case .record: "record"
        case .function, .builtin, .method: "function"
        case .object(let o): o.typeName
        }
    }

    public var isNone: Bool { if case .null = self { return true }; return false }

    /// Elements for `for ... in` and list functions.
    public var elements: [Value]? {
        switch self {
        case .list(let items): items
        case .range(let lo, let hi): lo < hi ? (hi - lo <= Limits.rangeLength ? (lo..<hi).map { .number(Double($0)) } : nil) : []
        default: nil
        }
    }
}

extension Value: CustomStringConvertible {
    public var description: String {
        switch self {
        case .number(let v): return formatNumber(v)
        case .percent(let v): return formatNumber(v) + "%"
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .null: return "nil"
        case .list(let items): return "[" + items.map(\.quoted).joined(separator: ", ") + "]"
        case .range(let lo, let hi): return "\(lo)..\(hi)"
        case .record(let fields): return "{" + fields.map { "\($0.0): \($0.1.quoted)" }.joined(separator: ", ") + "}"
        case .function(let f): return "<function \(f.name)(\(f.parameters.joined(separator: ", ")))>"
        case .builtin(let b): return "<builtin \(b.name)\(b.signatureText)>"
        case .object(let o): return o.summary
        case .method(let o, let m): return "<method \(o.typeName).\(m.name)\(m.signatureText)>"
        }
    }

    /// Strings inside lists and records are shown quoted.
    var quoted: String {
        if case .string(let s) = self { return "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        if case .object(let o) = self { return "<\(o.typeName)>" }
        return description
    }
}

public func formatNumber(_ v: Double) -> String {
    if v.isNaN { return "nan" }
    if v.isInfinite { return v > 0 ? "inf" : "-inf" }
    if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
    let s = String(format: "%.6g", v)
    return s
}

extension Value {
    /// Whether a user function is in this value (a list or record at any depth included).
    var holdsFunction: Bool {
        switch self {
        case .function: true
        case .list(let items): items.contains { $0.holdsFunction }
        case .record(let fields): fields.contains { $0.1.holdsFunction }
        default: false
        }
    }
}
