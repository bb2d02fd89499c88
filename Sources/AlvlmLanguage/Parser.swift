/// Recursive-descent parser. Each function's comment gives the grammar rule it implements.
public struct Parser {
    var tokens: [Token]
    var position = 0
    /// Nesting of (), [] and record {}: newlines inside them are not statement ends.
    var bracketDepth = 0
    var expressionDepth = 0
    /// Operators chained at one level also deepen the tree (left-nested): counted against the same limit.
    var chainLength = 0

    mutating func chained(_ location: SourceLocation) throws {
        chainLength += 1
        guard chainLength < Limits.operatorChain else { throw LanguageError(.syntax, "expression too long (more than \(Limits.operatorChain) operators)", at: location) }
    }

    public static func parse(_ source: String) throws -> [Stmt] {
        var p = Parser(tokens: try Lexer.tokenize(source))
        let program = try p.program()
        try checkReturns(program, insideFunction: false)
        return program
    }

    /// The static check that runs before any statement does: `return` only inside a function.
    static func checkReturns(_ statements: [Stmt], insideFunction: Bool) throws {
        for s in statements {
            switch s {
            case .returnValue(_, let location):
                guard insideFunction else { throw LanguageError(.syntax, "`return` outside a function", at: location) }
            case .ifElse(_, let then, let otherwise, _):
                try checkReturns(then, insideFunction: insideFunction)
                try checkReturns(otherwise ?? [], insideFunction: insideFunction)
            case .forIn(_, _, let body, _): try checkReturns(body, insideFunction: insideFunction)
            case .function(_, _, let body, _): try checkReturns(body, insideFunction: true)
            case .expression, .assign: break
            }
        }
    }

    var current: Token {
        var i = position
        if bracketDepth > 0 { while tokens[i].kind == .newline { i += 1 } }
        return tokens[i]
    }

    mutating func advance() -> Token {
        if bracketDepth > 0 { while tokens[position].kind == .newline { position += 1 } }
        let t = tokens[position]
        if t.kind != .end { position += 1 }
        return t
    }

    func isSymbol(_ s: Symbol) -> Bool { current.kind == .symbol(s) }
    func isKeyword(_ s: Keyword) -> Bool { current.kind == .keyword(s) }

    mutating func skipNewlines() { while tokens[position].kind == .newline { position += 1 } }

    func unexpected(_ expected: String) -> LanguageError {
        let t = current
        if t.kind == .end { return LanguageError(.syntax, "expected \(expected), but the input ended", at: t.location, incomplete: true) }
        return LanguageError(.syntax, "expected \(expected), found \(describe(t))", at: t.location)
    }

    func describe(_ t: Token) -> String {
        switch t.kind {
        case .number(let v): return "number \(format(v))"
        case .percent(let v): return "\(format(v))%"
        case .string: return "a string"
        case .name(let n): return "`\(n)`"
        case .keyword(let k): return "`\(k.rawValue)`"
        case .symbol(let s): return "`\(s.rawValue)`"
        case .newline: return "end of line"
        case .end: return "end of input"
        }
    }

    mutating func expect(_ symbol: Symbol, _ what: String? = nil) throws -> Token {
        guard isSymbol(symbol) else { throw unexpected(what ?? "`\(symbol.rawValue)`") }
        return advance()
    }

    /// program := (statement NEWLINE*)* END
    mutating func program() throws -> [Stmt] {
        var out: [Stmt] = []
        skipNewlines()
        while current.kind != .end {
            chainLength = 0
            out.append(try statement())
            guard current.kind == .newline || current.kind == .end else { throw unexpected("end of line") }
            skipNewlines()
        }
        return out
    }

    /// block := '{' (statement NEWLINE*)* '}'
    mutating func block() throws -> [Stmt] {
        _ = try expect(.leftBrace, "`{` to start a block")
        var out: [Stmt] = []
        skipNewlines()
        while !isSymbol(.rightBrace) {
            if current.kind == .end { throw LanguageError(.syntax, "expected `}` to close the block, but the input ended", at: current.location, incomplete: true) }
            out.append(try statement())
            if !isSymbol(.rightBrace) {
                guard current.kind == .newline else { throw unexpected("end of line or `}`") }
            }
            skipNewlines()
        }
        _ = advance()
        return out
    }

    /// statement := 'fn' NAME '(' names ')' block | 'if' ifRest | 'for' NAME 'in' expr block
    ///            | 'return' expr? | NAME '=' expr | expr
    mutating func statement() throws -> Stmt {
        let t = current
        switch t.kind {
        case .keyword(.fn):
            _ = advance()
            guard case .name(let name) = current.kind else { throw unexpected("a function name") }
            _ = advance()
            _ = try expect(.leftParen)
            bracketDepth += 1
            var params: [String] = []
            while !isSymbol(.rightParen) {
                guard case .name(let p) = current.kind else { bracketDepth -= 1; throw unexpected("a parameter name") }
                if params.contains(p) { bracketDepth -= 1; throw LanguageError(.syntax, "parameter `\(p)` appears twice", at: current.location) }
                params.append(p); _ = advance()
                if !isSymbol(.rightParen) { _ = try expect(.comma, "`,` or `)`") }
            }
            bracketDepth -= 1
            _ = advance()
            return .function(name, params, try block(), t.location)
        case .keyword(.if):
            return try ifStatement()
        case .keyword(.for):
            _ = advance()
            guard case .name(let name) = current.kind else { throw unexpected("a loop variable") }
            _ = advance()
            guard isKeyword(.in) else { throw unexpected("`in`") }
            _ = advance()
            let sequence = try expression()
            return .forIn(name, sequence, try block(), t.location)
        case .keyword(.return):
            _ = advance()
            if current.kind == .newline || current.kind == .end || isSymbol(.rightBrace) { return .returnValue(nil, t.location) }
            return .returnValue(try expression(), t.location)
        case .name(let name) where tokens[position + 1].kind == .symbol(.assign):
            _ = advance(); _ = advance()
            return .assign(name, try expression(), t.location)
        default:
            return .expression(try expression())
        }
    }

    /// ifRest := 'if' expr block ('else' (block | ifRest))?
    mutating func ifStatement() throws -> Stmt {
        let t = advance()
        let condition = try expression()
        let then = try block()
        // `else` may follow on the next line.
        var look = position
        while tokens[look].kind == .newline { look += 1 }
        if tokens[look].kind == .keyword(.else) {
            position = look
            _ = advance()
            if isKeyword(.if) { return .ifElse(condition, then, [try ifStatement()], t.location) }
            return .ifElse(condition, then, try block(), t.location)
        }
        return .ifElse(condition, then, nil, t.location)
    }

    /// expression := or
    mutating func expression() throws -> Expr {
        expressionDepth += 1
        defer { expressionDepth -= 1 }
        guard expressionDepth < Limits.expressionDepth else { throw LanguageError(.syntax, "expression nested too deeply", at: current.location) }
        return try or()
    }

    /// or := and ('or' and)*
    mutating func or() throws -> Expr {
        var e = try and()
        while isKeyword(.or) { let t = advance(); try chained(t.location); e = .binary(.or, e, try and(), t.location) }
        return e
    }

    /// and := not ('and' not)*
    mutating func and() throws -> Expr {
        var e = try not()
        while isKeyword(.and) { let t = advance(); try chained(t.location); e = .binary(.and, e, try not(), t.location) }
        return e
    }

    /// not := 'not' not | comparison
    mutating func not() throws -> Expr {
        if isKeyword(.not) {
            let t = advance()
            expressionDepth += 1
            defer { expressionDepth -= 1 }
            guard expressionDepth < Limits.expressionDepth else { throw LanguageError(.syntax, "expression nested too deeply", at: t.location) }
            return .unary(.not, try not(), t.location)
        }
        return try comparison()
    }

    /// comparison := range (('==' | '!=' | '<' | '<=' | '>' | '>=') range)?
    mutating func comparison() throws -> Expr {
        let e = try range()
        for symbol in [Symbol.equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual] where isSymbol(symbol) {
            let t = advance()
            return .binary(BinaryOperator(symbol)!, e, try range(), t.location)
        }
        return e
    }

    /// range := additive (('..' | '..=') additive)?   `a..b` stops before b, `a..=b` includes it.
    mutating func range() throws -> Expr {
        let e = try additive()
        if isSymbol(.range) { let t = advance(); return .range(e, try additive(), t.location) }
        if isSymbol(.rangeThrough) {
            let t = advance()
            let last = try additive()
            return .range(e, .binary(.plus, last, .number(1, t.location), t.location), t.location)
        }
        return e
    }

    /// additive := multiplicative (('+' | '-') multiplicative)*
    mutating func additive() throws -> Expr {
        var e = try multiplicative()
        while isSymbol(.plus) || isSymbol(.minus) {
            let t = advance()
            try chained(t.location)
            guard case .symbol(let symbol) = t.kind, let op = BinaryOperator(symbol) else { break }
            e = .binary(op, e, try multiplicative(), t.location)
        }
        return e
    }

    /// multiplicative := unary (('*' | '/' | '%') unary)*
    mutating func multiplicative() throws -> Expr {
        var e = try unary()
        while isSymbol(.times) || isSymbol(.divide) || isSymbol(.percent) {
            let t = advance()
            try chained(t.location)
            guard case .symbol(let symbol) = t.kind, let op = BinaryOperator(symbol) else { break }
            e = .binary(op, e, try unary(), t.location)
        }
        return e
    }

    /// unary := '-' unary | postfix
    mutating func unary() throws -> Expr {
        if isSymbol(.minus) {
            let t = advance()
            expressionDepth += 1
            defer { expressionDepth -= 1 }
            guard expressionDepth < Limits.expressionDepth else { throw LanguageError(.syntax, "expression nested too deeply", at: t.location) }
            return .unary(.negate, try unary(), t.location)
        }
        return try postfix()
    }

    /// postfix := primary ('(' arguments ')' | '.' NAME | '[' expression ']')*
    mutating func postfix() throws -> Expr {
        var e = try primary()
        while true {
            if isSymbol(.leftParen) || isSymbol(.dot) || isSymbol(.leftBracket) { try chained(current.location) }
            if isSymbol(.leftParen) {
                let t = advance()
                bracketDepth += 1
                defer { bracketDepth -= 1 }
                e = .call(e, try arguments(), t.location)
                _ = try expect(.rightParen, "`,` or `)` to close the call")
            } else if isSymbol(.dot) {
                _ = advance()
                guard case .name(let m) = current.kind else { throw unexpected("a member name after `.`") }
                let t = advance()
                e = .member(e, m, t.location)
            } else if isSymbol(.leftBracket) {
                let t = advance()
                bracketDepth += 1
                defer { bracketDepth -= 1 }
                e = .index(e, try expression(), t.location)
                _ = try expect(.rightBracket)
            } else {
                return e
            }
        }
    }

    /// arguments := (argument (',' argument)*)?   argument := NAME ':' expression | expression
    mutating func arguments() throws -> [CallArgument] {
        var out: [CallArgument] = []
        while !isSymbol(.rightParen) {
            if current.kind == .end { throw unexpected("`)`") }
            var here = position
            while tokens[here].kind == .newline { here += 1 }   // inside the call's parentheses newlines do not count
            if case .name(let label) = current.kind, tokens[nextIndex(after: here)].kind == .symbol(.colon) {
                let t = advance(); _ = advance()
                if out.contains(where: { $0.label == label }) { throw LanguageError(.argument, "argument `\(label)` is given twice", at: t.location) }
                out.append(CallArgument(label: label, labelLocation: t.location, value: try expression()))
            } else {
                if out.contains(where: { $0.label != nil }) { throw LanguageError(.syntax, "positional arguments must come before named ones", at: current.location) }
                out.append(CallArgument(label: nil, labelLocation: nil, value: try expression()))
            }
            // Python's `k=10`: say how alvlm writes it.
            if isSymbol(.assign), case .name(let n, _)? = out.last?.value {
                throw LanguageError(.syntax, "named arguments are written `\(n): value`, not `\(n)=value`", at: current.location)
            }
            if !isSymbol(.rightParen) { _ = try expect(.comma, "`,` or `)`") }
        }
        return out
    }

    func nextIndex(after i: Int) -> Int {
        var j = i + 1
        while bracketDepth > 0 && tokens[j].kind == .newline { j += 1 }
        return j
    }

    /// primary := NUMBER | PERCENT | STRING | 'true' | 'false' | 'nil' | NAME | '(' expression ')'
    ///          | '[' (expression (',' expression)*)? ']' | '{' (NAME ':' expression (',' ...)*)? '}'
    mutating func primary() throws -> Expr {
        let t = current
        switch t.kind {
        case .number(let v): _ = advance(); return .number(v, t.location)
        case .percent(let v): _ = advance(); return .percent(v, t.location)
        case .string(let s): _ = advance(); return .string(s, t.location)
        case .keyword(.true): _ = advance(); return .bool(true, t.location)
        case .keyword(.false): _ = advance(); return .bool(false, t.location)
        case .keyword(.nil): _ = advance(); return .nilLiteral(t.location)
        case .name(let n): _ = advance(); return .name(n, t.location)
        case .symbol(.leftParen):
            _ = advance()
            bracketDepth += 1
            defer { bracketDepth -= 1 }
            let e = try expression()
            _ = try expect(.rightParen)
            return e
        case .symbol(.leftBracket):
            _ = advance()
            bracketDepth += 1
            defer { bracketDepth -= 1 }
            var items: [Expr] = []
            while !isSymbol(.rightBracket) {
                if current.kind == .end { throw unexpected("`]`") }
                items.append(try expression())
                if !isSymbol(.rightBracket) { _ = try expect(.comma, "`,` or `]`") }
            }
            _ = advance()
            return .list(items, t.location)
        case .symbol(.leftBrace):
            _ = advance()
            bracketDepth += 1
            defer { bracketDepth -= 1 }
            var fields: [(String, Expr)] = []
            while !isSymbol(.rightBrace) {
                guard case .name(let key) = current.kind else { throw unexpected("a field name") }
                let k = advance()
                if fields.contains(where: { $0.0 == key }) { throw LanguageError(.syntax, "field `\(key)` appears twice", at: k.location) }
                _ = try expect(.colon)
                fields.append((key, try expression()))
                if !isSymbol(.rightBrace) { _ = try expect(.comma, "`,` or `}`") }
            }
            _ = advance()
            return .record(fields, t.location)
        default:
            throw unexpected("an expression")
        }
    }
}

func format(_ v: Double) -> String {
    if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
    return String(v)
}
