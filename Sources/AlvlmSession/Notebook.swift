import AlvlmLanguage
import Foundation

/// An alvlm notebook (`.alnb`): plain UTF-8 text with jupytext-style percent cells.
///   `# %% [markdown]` starts a prose cell (its lines are commented with `#`),
///   `# %%` (optionally a title, `tags=["parameters"]`, `id="..."`) starts a code cell.
/// No outputs are stored in the source. `# expect: TEXT` and `# expect error: TEXT` comments in a code cell
/// turn the notebook into a test.
public struct Notebook {
    enum Kind: String { case code, markdown, raw }

    struct Cell {
        var kind: Kind
        var source: String          // code as written; markdown with the comment leaders removed
        var tags: [String] = []
        var id: String
        var title: String = ""
        var line: Int               // the line of the cell's first source line in the file
        /// Expectations from `# expect:` / `# expect error:` comments.
        var expectations: [Expectation] = []
    }

    enum Expectation: Equatable { case output(String), error(String) }

    var cells: [Cell]

    public struct FormatError: Error, CustomStringConvertible {
        public let line: Int, message: String
        public var description: String { "line \(line): \(message)" }
        /// The error in the shape of every other diagnostic: message, the notebook's name and line, the line, a caret.
        public func render(source: String, name: String) -> String {
            renderDiagnostic(message, at: location(in: source), source: source, name: name)
        }
        /// The whole line the error is about.
        public func location(in source: String) -> SourceLocation {
            let text = source.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(line - 1).first
            return SourceLocation(line: line, column: 1, length: max(1, text?.count ?? 1))
        }
    }

    static func parse(_ data: Data) throws -> Notebook {
        guard let text = String(data: data, encoding: .utf8) else { throw FormatError(line: 1, message: "the notebook is not UTF-8 text") }
        return try parse(text)
    }

    static func parse(_ text: String) throws -> Notebook {
        let lines = text.components(separatedBy: "\n").map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
        var cells: [Cell] = []
        var current: (kind: Kind, tags: [String], id: String?, title: String, start: Int, body: [String])? = nil
        var usedIDs = Set<String>()
        func finish() throws {
            guard let c = current else { return }
            var body = c.body
            while body.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { body.removeLast() }
            var leading = 0
            while leading < body.count, body[leading].trimmingCharacters(in: .whitespaces).isEmpty { leading += 1 }
            body.removeFirst(leading)
            if body.isEmpty && c.id == nil && c.start == 1 { current = nil; return }   // blank text before the first marker
            let id = c.id ?? "cell-\(cells.count + 1)"
            guard usedIDs.insert(id).inserted else { throw FormatError(line: c.start - 1, message: "cell id \"\(id)\" is used twice") }   // the marker line
            var cell = Cell(kind: c.kind, source: "", tags: c.tags, id: id, title: c.title, line: c.start + leading)
            if c.kind == .markdown {
                cell.source = body.map { line in
                    if line.hasPrefix("# ") { return String(line.dropFirst(2)) }
                    if line.hasPrefix("#") { return String(line.dropFirst()) }
                    return line
                }.joined(separator: "\n")
            } else {
                cell.source = body.joined(separator: "\n")
                for line in body {
                    let t = line.trimmingCharacters(in: .whitespaces)
                    if t.hasPrefix("# expect error:") { cell.expectations.append(.error(String(t.dropFirst(15)).trimmingCharacters(in: .whitespaces))) }
                    else if t.hasPrefix("# expect:") { cell.expectations.append(.output(String(t.dropFirst(9)).trimmingCharacters(in: .whitespaces))) }
                }
            }
            cells.append(cell)
            current = nil
        }
        for (i, line) in lines.enumerated() {
            let n = i + 1
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("# %%") || t.hasPrefix("#%%") {
                try finish()
                let rest = String(t.drop(while: { $0 == "#" || $0 == " " }).dropFirst(2))
                let (kind, tags, id, title) = try marker(rest, line: n)
                current = (kind, tags, id, title, n + 1, [])
            } else {
                if current == nil { current = (.code, [], nil, "", n, []) }
                current!.body.append(line)
            }
        }
        try finish()
        return Notebook(cells: cells)
    }

    /// The marker after `%%`: an optional title, an optional `[markdown]`/`[md]`/`[raw]`, and key="value" / tags=[...] metadata.
    static func marker(_ text: String, line: Int) throws -> (Kind, [String], String?, String) {
        var s = Substring(text)
        var kind = Kind.code, tags: [String] = [], id: String? = nil
        var title: [String] = []
        func skipSpaces() { s = s.drop(while: { $0 == " " || $0 == "\t" }) }
        skipSpaces()
        while !s.isEmpty {
            if s.hasPrefix("[") {
                guard let close = s.firstIndex(of: "]") else { throw FormatError(line: line, message: "unclosed [ in the cell marker") }
                let word = s[s.index(after: s.startIndex)..<close].trimmingCharacters(in: .whitespaces)
                switch word {
                case "markdown", "md": kind = .markdown
                case "raw": kind = .raw
                default: throw FormatError(line: line, message: "unknown cell type [\(word)] (markdown, md or raw)")
                }
                s = s[s.index(after: close)...]
            } else if let eq = s.firstIndex(of: "="), !s[..<eq].contains(" "), s[..<eq].allSatisfy({ $0.isLetter || $0 == "_" }) {
                let key = String(s[..<eq])
                s = s[s.index(after: eq)...]
                if key == "tags" {
                    guard s.hasPrefix("["), let close = s.firstIndex(of: "]") else { throw FormatError(line: line, message: "tags must be a list such as tags=[\"parameters\"]") }
                    let inner = s[s.index(after: s.startIndex)..<close]
                    tags = try inner.split(separator: ",").map { part in
                        let p = part.trimmingCharacters(in: .whitespaces)
                        guard p.count >= 2, p.hasPrefix("\""), p.hasSuffix("\""), !p.dropFirst().dropLast().contains(",") else {
                            throw FormatError(line: line, message: "malformed tag \(p) (tags are quoted strings)")
                        }
                        return String(p.dropFirst().dropLast())
                    }
                    s = s[s.index(after: close)...]
                } else {
                    guard s.hasPrefix("\""), let close = s.dropFirst().firstIndex(of: "\"") else {
                        throw FormatError(line: line, message: "\(key)= needs a quoted value")
                    }
                    let value = String(s[s.index(after: s.startIndex)..<close])
                    if key == "id" {
                        guard (1...64).contains(value.count), value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                            throw FormatError(line: line, message: "cell id \"\(value)\" must be 1-64 characters of letters, digits, - and _")
                        }
                        id = value
                    }
                    s = s[s.index(after: close)...]
                }
            } else {
                let word = s.prefix(while: { $0 != " " && $0 != "\t" && $0 != "[" })
                if word.isEmpty { throw FormatError(line: line, message: "malformed cell marker") }
                title.append(String(word))
                s = s.dropFirst(word.count)
            }
            skipSpaces()
        }
        return (kind, tags, id, title.joined(separator: " "))
    }
}
