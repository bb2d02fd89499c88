/// The syntax tree. Every node keeps the location of the token that names it, for error messages.
public indirect enum Expr: Sendable {
    case number(Double, SourceLocation)
    case percent(Double, SourceLocation)
    case string(String, SourceLocation)
    case bool(Bool, SourceLocation)
    case nilLiteral(SourceLocation)
    case name(String, SourceLocation)
    case list([Expr], SourceLocation)
    case record([(String, Expr)], SourceLocation)
    case unary(UnaryOperator, Expr, SourceLocation)
    case binary(BinaryOperator, Expr, Expr, SourceLocation)
    case range(Expr, Expr, SourceLocation)
    case call(Expr, [CallArgument], SourceLocation)
    case member(Expr, String, SourceLocation)
    case index(Expr, Expr, SourceLocation)

    public var location: SourceLocation {
        switch self {
        case .number(_, let l), .percent(_, let l), .string(_, let l), .bool(_, let l), .nilLiteral(let l), .name(_, let l),
             .list(_, let l), .record(_, let l), .unary(_, _, let l), .binary(_, _, _, let l), .range(_, _, let l),
             .call(_, _, let l), .member(_, _, let l), .index(_, _, let l): return l
        }
    }
}

public struct CallArgument: Sendable {
    public var label: String?
    public var labelLocation: SourceLocation?
    public var value: Expr
}

public indirect enum Stmt: Sendable {
    case expression(Expr)
    case assign(String, Expr, SourceLocation)
    case ifElse(Expr, [Stmt], [Stmt]?, SourceLocation)
    case forIn(String, Expr, [Stmt], SourceLocation)
    case function(String, [String], [Stmt], SourceLocation)
    case returnValue(Expr?, SourceLocation)
}

/// Operators with two operands, as written.
public enum BinaryOperator: String, Sendable {
    case or, and
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case plus = "+", minus = "-", times = "*", divide = "/", remainder = "%"

    /// The operator a symbol token spells, where it is one.
    init?(_ symbol: Symbol) { self.init(rawValue: symbol.rawValue) }
}

/// Operators with one operand.
public enum UnaryOperator: String, Sendable { case not, negate = "-" }
