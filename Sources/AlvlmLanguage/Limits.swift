/// Every limit of the language in one place: what keeps a mistyped or hostile input from exhausting the stack,
/// memory or patience. Each is reported as an error at the place it is reached.
public enum Limits {
    /// Nested function calls (recursion).
    public static let callDepth = 200
    /// Nested evaluation of one expression tree.
    public static let evaluationDepth = 3000
    /// Nested brackets, unary operators and calls in one expression, as parsed.
    public static let expressionDepth = 200
    /// Operators chained at one level (`1 + 1 + ...`), which also deepen the tree.
    public static let operatorChain = 2000
    /// Characters of one number literal.
    public static let numberLength = 64
    /// Numbers a range may expand to (`range(...)`, `a..b` turned into a list).
    public static let rangeLength = 10_000_000
}
