/// The language's reserved words.
public enum Keyword: String, CaseIterable, Sendable {
    case `if`, `else`, `for`, `in`, fn, `return`, `true`, `false`, `nil`, and, or, not
}

/// Punctuation and operator symbols, as written.
public enum Symbol: String, CaseIterable, Sendable {
    case leftParen = "(", rightParen = ")", leftBracket = "[", rightBracket = "]", leftBrace = "{", rightBrace = "}"
    case comma = ",", colon = ":", dot = ".", assign = "="
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case plus = "+", minus = "-", times = "*", divide = "/", percent = "%", range = "..", rangeThrough = "..="
}

/// Tokens of the alvlm language.
public struct Token: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        case number(Double), percent(Double), string(String), name(String), keyword(Keyword)
        case symbol(Symbol)
        case newline, end
    }
    public var kind: Kind
    public var location: SourceLocation
}

/// Turns source text into tokens. Comments run from `#` to the end of the line. Newlines end statements
/// except inside (), [] and {} record literals (the parser decides; the lexer reports them all).
public struct Lexer {
    public static let keywords: Set<String> = Set(Keyword.allCases.map(\.rawValue))

    public static func tokenize(_ source: String) throws -> [Token] {
        let chars = Array(source)
        var tokens: [Token] = []
        var i = 0, line = 1, column = 1
        func advance(_ n: Int = 1) { for _ in 0..<n { if i < chars.count { if chars[i] == "\n" { line += 1; column = 1 } else { column += 1 }; i += 1 } } }
        func add(_ kind: Token.Kind, _ l: Int, _ c: Int, _ length: Int) { tokens.append(Token(kind: kind, location: SourceLocation(line: l, column: c, length: length))) }
        while i < chars.count {
            let c = chars[i], l = line, col = column
            if c == "\n" || c == ";" { add(.newline, l, col, 1); advance(); continue }   // `;` separates statements on one line
            if c == " " || c == "\t" || c == "\r" { advance(); continue }
            if c == "#" { while i < chars.count && chars[i] != "\n" { advance() }; continue }
            if c.isASCII && c.isNumber || (c == "." && i + 1 < chars.count && chars[i + 1].isASCII && chars[i + 1].isNumber && (i + 2 >= chars.count || chars[i + 1] != ".")) {
                var j = i
                while j < chars.count && chars[j].isASCII && (chars[j].isNumber || chars[j] == "_") { j += 1 }
                if j < chars.count && chars[j] == "." && !(j + 1 < chars.count && chars[j + 1] == ".") {
                    j += 1
                    while j < chars.count && chars[j].isASCII && (chars[j].isNumber || chars[j] == "_") { j += 1 }
                }
                if j < chars.count && (chars[j] == "e" || chars[j] == "E") {
                    var k = j + 1
                    if k < chars.count && (chars[k] == "+" || chars[k] == "-") { k += 1 }
                    if k < chars.count && chars[k].isASCII && chars[k].isNumber {
                        j = k
                        while j < chars.count && chars[j].isASCII && chars[j].isNumber { j += 1 }
                    }
                }
                let text = String(chars[i..<j]).replacingOccurrences(of: "_", with: "")
                guard j - i <= Limits.numberLength, let value = Double(text), value.isFinite else {
                    throw LanguageError(.syntax, "number \(String(chars[i..<min(j, i + 20)]))\(j - i > 20 ? "..." : "") is not a finite number",
                                        at: SourceLocation(line: l, column: col, length: j - i))
                }
                let length = j - i
                advance(length)
                // A percent sign right after a number (no space) makes a percentage: 1%, 2.5%.
                if i < chars.count && chars[i] == "%" {
                    advance(); add(.percent(value), l, col, length + 1)
                } else {
                    add(.number(value), l, col, length)
                }
                continue
            }
            if c.isLetter || c == "_" {
                var j = i
                while j < chars.count && (chars[j].isLetter || chars[j].isNumber || chars[j] == "_") { j += 1 }
                let word = String(chars[i..<j])
                advance(j - i)
                add(Keyword(rawValue: word).map { .keyword($0) } ?? .name(word), l, col, word.count)
                continue
            }
            if c == "\"" || c == "'" {
                let quote = c
                var value = ""
                advance()
                var closed = false
                while i < chars.count {
                    let ch = chars[i]
                    if ch == quote { advance(); closed = true; break }
                    if ch == "\n" { break }
                    if ch == "\\" && i + 1 < chars.count {
                        let e = chars[i + 1]
                        switch e {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "'": value.append("'")
                        default:
                            throw LanguageError(.syntax, "unknown escape \\\(e) in a string", at: SourceLocation(line: line, column: column, length: 2))
                        }
                        advance(2)
                        continue
                    }
                    value.append(ch)
                    advance()
                }
                guard closed else {
                    throw LanguageError(.syntax, "unterminated string", at: SourceLocation(line: l, column: col, length: 1), incomplete: false)
                }
                add(.string(value), l, col, column - col)
                continue
            }
            // The longest symbol that matches: three characters, then two, then one.
            if let (symbol, length) = [3, 2, 1].lazy.compactMap({ n -> (Symbol, Int)? in
                guard i + n <= chars.count, let s = Symbol(rawValue: String(chars[i..<(i + n)])) else { return nil }
                return (s, n)
            }).first {
                add(.symbol(symbol), l, col, length); advance(length); continue
            }
            let shown = c.unicodeScalars.first.map { $0.isASCII && $0.value >= 32 ? String(c) : String(format: "U+%04X", $0.value) } ?? "?"
            throw LanguageError(.syntax, "unexpected character \(shown)", at: SourceLocation(line: l, column: col))
        }
        add(.end, line, column, 1)
        return tokens
    }
}
