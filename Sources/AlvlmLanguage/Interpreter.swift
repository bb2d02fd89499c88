/// Variables: a chain of scopes (the global one, then one per function call).
public final class Environment: @unchecked Sendable {
    var values: [String: Value] = [:]
    let parent: Environment?
    init(parent: Environment?) { self.parent = parent }

    func lookup(_ name: String) -> Value? { values[name] ?? parent?.lookup(name) }
}

/// Evaluates programs in one persistent state. Errors leave the state as it was before the failing statement.
public final class Interpreter {
    public let registry: Registry
    public let host: LanguageHost
    let globals = Environment(parent: nil)
    var callDepth = 0

    public init(registry: Registry, host: LanguageHost) { self.registry = registry; self.host = host }
    /// Call scopes whose functions escaped through the call's result (see `call`).
    var escapedScopes: [Environment] = []
    /// Functions defined at the top level hold the global scope that holds them, and escaped ones their call's
    /// scope (see `call`): emptied here so that the cycles are freed with the interpreter.
    deinit {
        globals.values.removeAll()
        for scope in escapedScopes { scope.values.removeAll() }
    }

    /// User variables (not builtins), sorted by name.
    /// The variables defined (`_`, the last value shown, left out).
    public var variables: [(name: String, value: Value)] { globals.values.keys.sorted().filter { $0 != "_" }.map { ($0, globals.values[$0]!) } }
    public func variable(_ name: String) -> Value? { globals.values[name] }
    public func setVariable(_ name: String, _ value: Value) { globals.values[name] = value }

    struct Return: Error { let value: Value }

    /// Runs source text; returns the value of the last expression statement (nil when it was not an expression).
    /// `echo` receives the value of each top-level expression statement, as the REPL prints them.
    @discardableResult
    public func run(_ source: String, echo: ((Value) -> Void)? = nil) throws -> Value? {
        let program = try Parser.parse(Help.rewrite(source))
        var last: Value? = nil
        for statement in program {
            last = nil
            if case .expression(let e) = statement {
                let v = try evaluate(e, globals)
                last = v
                // `_` is the last value a top-level expression gave (as in IPython), nil values aside.
                if !v.isNone { globals.values["_"] = v }
                echo?(v)
            } else {
                try execute(statement, globals)   // `return` outside a function was refused by the parser
            }
        }
        return last
    }

    func checkInterrupt(_ location: SourceLocation?) throws {
        if host.isCancelled { throw LanguageError(.interrupted, "interrupted", at: location) }
    }

    func execute(_ statement: Stmt, _ env: Environment) throws {
        switch statement {
        case .expression(let e):
            _ = try evaluate(e, env)
        case .assign(let name, let e, let loc):
            try checkInterrupt(loc)
            if registry.builtins[name] != nil && env === globals {
                throw LanguageError(.name, "`\(name)` is a builtin and cannot be reassigned", at: loc)
            }
            env.values[name] = try evaluate(e, env)
        case .ifElse(let condition, let then, let otherwise, _):
            if try truth(try evaluate(condition, env), condition.location) {
                for s in then { try execute(s, env) }
            } else if let otherwise {
                for s in otherwise { try execute(s, env) }
            }
        case .forIn(let name, let sequence, let body, let loc):
            let v = try evaluate(sequence, env)
            if case .range(let lo, let hi) = v {   // lazily: a long range costs no memory and stays interruptible
                var i = lo
                while i < hi {
                    try checkInterrupt(loc)
                    env.values[name] = .number(Double(i))
                    for s in body { try execute(s, env) }
                    i += 1
                }
                return
            }
            guard let items = v.elements else {
                throw LanguageError(.type, "cannot loop over \(article(v.typeName)) (a list or a range is needed)", at: sequence.location)
            }
            for item in items {
                try checkInterrupt(loc)
                env.values[name] = item
                for s in body { try execute(s, env) }
            }
        case .function(let name, let params, let body, let loc):
            if registry.builtins[name] != nil { throw LanguageError(.name, "`\(name)` is a builtin and cannot be redefined", at: loc) }
            env.values[name] = .function(UserFunction(name: name, parameters: params, body: body, closure: env))
        case .returnValue(let e, _):
            throw Return(value: try e.map { try evaluate($0, env) } ?? .null)
        }
    }

    func truth(_ v: Value, _ location: SourceLocation) throws -> Bool {
        switch v {
        case .bool(let b): return b
        case .null: return false
        default: throw LanguageError(.type, "a condition must be true or false, not \(article(v.typeName))", at: location)
        }
    }

    var evaluationDepth = 0

    func evaluate(_ e: Expr, _ env: Environment) throws -> Value {
        evaluationDepth += 1
        defer { evaluationDepth -= 1 }
        guard evaluationDepth < Limits.evaluationDepth else { throw LanguageError(.runtime, "evaluation nested too deeply", at: e.location) }
        switch e {
        case .number(let v, _): return .number(v)
        case .percent(let v, _): return .percent(v)
        case .string(let s, _): return .string(s)
        case .bool(let b, _): return .bool(b)
        case .nilLiteral: return .null
        case .name(let n, let loc):
            if let v = env.lookup(n) { return v }
            if let b = registry.builtins[n] { return .builtin(b) }
            // `_` (the last value) is never the name someone meant to type.
            let candidates = (Array(globals.values.keys) + Array(env.values.keys) + Array(registry.builtins.keys)).filter { $0 != "_" }
            // Python's spellings of the literals get alvlm's.
            let literal = ["True": "true", "False": "false", "None": "nil", "null": "nil", "TRUE": "true", "FALSE": "false"][n]
            let hint = literal.map { "; alvlm writes `\($0)`" } ?? closestMatch(n, in: candidates).map { ", did you mean `\($0)`?" } ?? ""
            throw LanguageError(.name, "unknown name `\(n)`\(hint)", at: loc)
        case .list(let items, _): return .list(try items.map { try evaluate($0, env) })
        case .record(let fields, _): return .record(try fields.map { ($0.0, try evaluate($0.1, env)) })
        case .unary(let op, let operand, let loc):
            let v = try evaluate(operand, env)
            switch (op, v) {
            case (.negate, .number(let d)): return .number(-d)
            case (.negate, .percent(let d)): return .percent(-d)
            case (.not, _): return .bool(!(try truth(v, operand.location)))
            default: throw LanguageError(.type, "cannot negate \(article(v.typeName))", at: loc)
            }
        case .binary(let op, let l, let r, let loc):
            if op == .and { return .bool(try truth(try evaluate(l, env), l.location) && truth(try evaluate(r, env), r.location)) }
            if op == .or { return .bool(try truth(try evaluate(l, env), l.location) || truth(try evaluate(r, env), r.location)) }
            return try binary(op, try evaluate(l, env), try evaluate(r, env), loc)
        case .range(let lo, let hi, let loc):
            let a = try evaluate(lo, env), b = try evaluate(hi, env)
            guard case .number(let x) = a, case .number(let y) = b, x == x.rounded(), y == y.rounded(), abs(x) < 1e9, abs(y) < 1e9 else {
                throw LanguageError(.type, "a range needs two whole numbers", at: loc)
            }
            return .range(Int(x), Int(y))
        case .member(let target, let name, let loc):
            return try member(try evaluate(target, env), name, loc)
        case .index(let target, let index, let loc):
            let t = try evaluate(target, env), i = try evaluate(index, env)
            switch (t, i) {
            case (.record(let fields), .string(let key)):
                guard let v = fields.first(where: { $0.0 == key })?.1 else { throw LanguageError(.name, "no field `\(key)`", at: loc) }
                return v
            default:
                guard let items = t.elements else { throw LanguageError(.type, "cannot index \(article(t.typeName))", at: loc) }
                guard case .number(let d) = i, d == d.rounded() else { throw LanguageError(.type, "an index must be a whole number", at: index.location) }
                let k = Int(max(-1e9, min(1e9, d)))
                let j = k < 0 ? items.count + k : k
                guard j >= 0, j < items.count else { throw LanguageError(.runtime, "index \(k) is out of range for \(items.count) items", at: index.location) }
                return items[j]
            }
        case .call(let callee, let args, let loc):
            let f = try evaluate(callee, env)
            if case .builtin(let b) = f, b.deferredArguments {
                let thunks = args.map { arg in
                    (label: arg.label, value: Value.builtin(Builtin("expression", [], summary: "") { [unowned self] _, _ in try self.evaluate(arg.value, env) }),
                     location: arg.labelLocation ?? arg.value.location)
                }
                return try call(f, thunks, loc)
            }
            let given = try args.map { (label: $0.label, value: try evaluate($0.value, env), location: $0.labelLocation ?? $0.value.location) }
            return try call(f, given, loc)
        }
    }

    public func call(_ f: Value, _ given: [(label: String?, value: Value, location: SourceLocation)], _ loc: SourceLocation?) throws -> Value {
        try checkInterrupt(loc)
        callDepth += 1
        defer { callDepth -= 1 }
        guard callDepth < Limits.callDepth else { throw LanguageError(.runtime, "too many nested calls (recursion deeper than \(Limits.callDepth))", at: loc) }
        switch f {
        case .builtin(let b):
            let args = try b.bind(given, call: loc, owner: "`\(b.name)`")
            return try located(loc) { try b.run(args, self) }
        case .method(let o, let m):
            let args = try m.bind(given, call: loc, owner: "`\(o.typeName).\(m.name)`")
            return try located(loc) { try m.run(o, args, self) }
        case .function(let fn):
            guard given.allSatisfy({ $0.label == nil || fn.parameters.contains($0.label!) }) else {
                let bad = given.first { $0.label != nil && !fn.parameters.contains($0.label!) }!
                throw LanguageError(.argument, "unknown argument `\(bad.label!)` for `\(fn.name)`", at: bad.location)
            }
            guard given.count == fn.parameters.count else {
                throw LanguageError(.argument, "`\(fn.name)` takes \(fn.parameters.count) argument\(fn.parameters.count == 1 ? "" : "s"), got \(given.count)", at: loc)
            }
            let scope = Environment(parent: fn.closure)
            var position = 0
            for arg in given {
                let name = arg.label ?? fn.parameters[position]
                if arg.label == nil { position += 1 }
                guard scope.values[name] == nil else { throw LanguageError(.argument, "argument `\(name)` of `\(fn.name)` is given twice", at: arg.location) }
                scope.values[name] = arg.value
            }
            var result = Value.null
            // A function defined in this call holds the call's scope, which holds the function: a cycle that reference
            // counting never frees. Functions leave a call only through its result (assignments are local), so the
            // scope is emptied when the result holds no function, and kept to be emptied with the interpreter if not.
            defer { if result.holdsFunction { escapedScopes.append(scope) } else { scope.values.removeAll() } }
            do {
                for s in fn.body { try execute(s, scope) }
            } catch let r as Return {
                result = r.value
            }
            return result
        default:
            throw LanguageError(.type, "\(article(f.typeName)) cannot be called", at: loc)
        }
    }

    /// Errors thrown by host code without a location get the call's.
    func located<T>(_ loc: SourceLocation?, _ body: () throws -> T) throws -> T {
        do { return try body() } catch var e as LanguageError {
            if e.location == nil { e.location = loc }
            throw e
        }
    }

    public func member(_ target: Value, _ name: String, _ loc: SourceLocation?) throws -> Value {
        switch target {
        case .object(let o):
            guard let m = registry.members[o.typeName]?[name] else {
                let names = Array(registry.members[o.typeName]?.keys ?? [:].keys)
                let hint = closestMatch(name, in: names).map { ", did you mean `\($0)`?" } ?? ""
                throw LanguageError(.name, "\(o.typeName) has no member `\(name)`\(hint)", at: loc)
            }
            if m.isProperty {
                let args = Arguments(values: [:], locations: [:], callLocation: loc)
                return try located(loc) { try m.run(o, args, self) }
            }
            return .method(o, m)
        case .record(let fields):
            guard let v = fields.first(where: { $0.0 == name })?.1 else {
                let hint = closestMatch(name, in: fields.map(\.0)).map { ", did you mean `\($0)`?" } ?? ""
                throw LanguageError(.name, "the record has no field `\(name)`\(hint)", at: loc)
            }
            return v
        case .list(let items) where name == "count": return .number(Double(items.count))
        default:
            throw LanguageError(.type, "\(article(target.typeName)) has no member `\(name)`", at: loc)
        }
    }

    func binary(_ op: BinaryOperator, _ a: Value, _ b: Value, _ loc: SourceLocation) throws -> Value {
        func fail() -> LanguageError { LanguageError(.type, "cannot apply `\(op.rawValue)` to \(article(a.typeName)) and \(article(b.typeName))", at: loc) }
        switch (op, a, b) {
        case (.equal, _, _): return .bool(equal(a, b))
        case (.notEqual, _, _): return .bool(!equal(a, b))
        case (_, .number(let x), .number(let y)), (_, .percent(let x), .percent(let y)):
            let percent: Bool = { if case .percent = a { return true }; return false }()
            switch op {
            case .plus: return percent ? .percent(x + y) : .number(x + y)
            case .minus: return percent ? .percent(x - y) : .number(x - y)
            case .times: return .number(x * y)
            case .divide:
                guard y != 0 else { throw LanguageError(.runtime, "division by zero", at: loc) }
                return .number(x / y)
            case .remainder:
                guard y != 0 else { throw LanguageError(.runtime, "modulo by zero", at: loc) }
                return .number(x.truncatingRemainder(dividingBy: y))
            case .less: return .bool(x < y)
            case .lessEqual: return .bool(x <= y)
            case .greater: return .bool(x > y)
            case .greaterEqual: return .bool(x >= y)
            default: throw fail()
            }
        case (.times, .percent(let p), .number(let n)), (.times, .number(let n), .percent(let p)): return .number(p / 100 * n)
        case (.plus, .string(let x), .string(let y)): return .string(x + y)
        case (.plus, .string(let x), _): return .string(x + b.description)
        case (.plus, .number, .string(let y)), (.plus, .percent, .string(let y)), (.plus, .bool, .string(let y)): return .string(a.description + y)
        case (.plus, .list(let x), .list(let y)): return .list(x + y)
        case (.less, .string(let x), .string(let y)): return .bool(x < y)
        case (.greater, .string(let x), .string(let y)): return .bool(x > y)
        default: throw fail()
        }
    }

    func equal(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)), (.percent(let x), .percent(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        case (.list(let x), .list(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.range(let a1, let b1), .range(let a2, let b2)): return a1 == a2 && b1 == b2
        case (.object(let x), .object(let y)): return x === y
        default: return false
        }
    }
}
