/// Tokens of the alvlm language.
public struct Token: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        case number(Double), percent(Double), string(String), name(String), keyword(String)
        case symbol(String)     // ( ) [ ] { } , : . = == != < <= > >= + - * / % ..
        case newline, end
    }
    public var kind: Kind
    public var location: SourceLocation
}

/// Turns source text into tokens. Comments run from `#` to the end of the line. Newlines end statements
/// except inside (), [] and {} record literals (the parser decides; the lexer reports them all).
public struct Lexer {
    public static let keywords: Set<String> = ["if", "else", "for", "in", "fn", "return", "true", "false", "nil", "and", "or", "not"]
    static let maxNumberLength = 64

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
                guard j - i <= maxNumberLength, let value = Double(text), value.isFinite else {
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
                add(keywords.contains(word) ? .keyword(word) : .name(word), l, col, word.count)
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
            if i + 2 < chars.count, String(chars[i...(i + 2)]) == "..=" { add(.symbol("..="), l, col, 3); advance(3); continue }
            let two = i + 1 < chars.count ? String(chars[i...(i + 1)]) : ""
            if ["==", "!=", "<=", ">=", ".."].contains(two) { add(.symbol(two), l, col, 2); advance(2); continue }
            if "()[]{},:.=<>+-*/%".contains(c) { add(.symbol(String(c)), l, col, 1); advance(); continue }
            let shown = c.unicodeScalars.first.map { $0.isASCII && $0.value >= 32 ? String(c) : String(format: "U+%04X", $0.value) } ?? "?"
            throw LanguageError(.syntax, "unexpected character \(shown)", at: SourceLocation(line: l, column: col))
        }
        add(.end, line, column, 1)
        return tokens
    }
}
