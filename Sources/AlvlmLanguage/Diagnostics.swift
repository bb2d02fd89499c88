/// Where something is in the source: 1-based line and column, and how many characters it spans.
public struct SourceLocation: Equatable, Sendable {
    public var line: Int
    public var column: Int
    public var length: Int
    public init(line: Int, column: Int, length: Int = 1) { self.line = line; self.column = column; self.length = max(1, length) }
}

/// A named piece of source an error points into when it is not the input being run (a cell of a notebook that
/// `run_notebook` ran): its text, and the line of the file its first line is.
public struct SourceText: Equatable, Sendable {
    public var name: String
    public var text: String
    public var firstLine: Int
    public init(name: String, text: String, firstLine: Int = 1) { self.name = name; self.text = text; self.firstLine = firstLine }
}

/// The one renderer of diagnostics, for every source (a file, `cell N`, `-c`, `<stdin>`, a notebook's cell, the
/// notebook format): `error: message`, then where (name, line, column), the source line and a caret under the spot.
/// `firstLine`: the file line of the source's first line (cells inside a notebook).
public func renderDiagnostic(_ message: String, at location: SourceLocation?, source: String, name: String?, firstLine: Int = 1) -> String {
    var out = "error: \(message)"
    guard let loc = location else { return out }
    let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
    guard loc.line >= 1, loc.line <= lines.count else { return out }
    let text = String(lines[loc.line - 1])
    let shown = firstLine + loc.line - 1
    let gutter = String(shown)
    let pad = String(repeating: " ", count: gutter.count)
    out += "\n\(pad)--> \(name.map { "\($0), " } ?? "")line \(shown), column \(loc.column)"
    out += "\n\(pad) |\n\(gutter) | \(text)\n\(pad) | "
    let prefix = text.prefix(max(0, loc.column - 1)).map { $0 == "\t" ? "\t" : " " }.joined()
    let width = max(1, min(loc.length, max(1, text.count - loc.column + 1)))
    out += prefix + String(repeating: "^", count: width)
    return out
}

/// A language error: a message and the place it points at. One mistake gives one error.
public struct LanguageError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable { case syntax, name, type, argument, runtime, engine, interrupted }
    public var kind: Kind
    public var message: String
    public var location: SourceLocation?
    /// True when the input simply ended too early (the REPL then asks for a continuation line).
    public var incomplete = false
    /// The source `location` points into when it is not the input that was run (set where an error leaves a
    /// notebook run by `run_notebook`); nil: the input itself.
    public var origin: SourceText?

    public init(_ kind: Kind, _ message: String, at location: SourceLocation? = nil, incomplete: Bool = false) {
        self.kind = kind; self.message = message; self.location = location; self.incomplete = incomplete
    }

    public var description: String { "error: \(message)" }

    /// `error: message`, then where, the source line and a caret (`source` is the whole input; `name` labels it,
    /// e.g. a file or "cell 3"). An error from another source (`origin`) is shown against that source.
    public func render(source: String, name: String? = nil) -> String {
        if let origin { return renderDiagnostic(message, at: location, source: origin.text, name: origin.name, firstLine: origin.firstLine) }
        return renderDiagnostic(message, at: location, source: source, name: name)
    }
}

/// The closest candidate by edit distance, for "did you mean" hints (nil when nothing is close).
public func closestMatch(_ word: String, in candidates: [String]) -> String? {
    /// Edit distance counting a swap of two neighbours as one edit (`tset` is one edit from `test`).
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
    let w = Array(word.lowercased())
    // Ties go to the alphabetically first name, so the hint does not depend on a dictionary's order.
    let scored = candidates.map { ($0, distance(w, Array($0.lowercased()))) }.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
    guard let best = scored.first, best.1 <= max(1, word.count / 3) else { return nil }
    return best.0
}
