import AlvlmTestSupport
import XCTest
@testable import AlvlmLanguage


final class LexerParserTests: XCTestCase {
    func kinds(_ s: String) throws -> [Token.Kind] { try Lexer.tokenize(s).map(\.kind) }

    func testTokens() throws {
        XCTAssertEqual(try kinds("x = 1% + 2.5e3 % 4 # comment"),
                       [.name("x"), .symbol(.assign), .percent(1), .symbol(.plus), .number(2500), .symbol(.percent), .number(4), .end])
        XCTAssertEqual(try kinds("for i in 1..3 { f(a: \"s\\n\") }\n"),
                       [.keyword(.for), .name("i"), .keyword(.in), .number(1), .symbol(.range), .number(3), .symbol(.leftBrace),
                        .name("f"), .symbol(.leftParen), .name("a"), .symbol(.colon), .string("s\n"), .symbol(.rightParen), .symbol(.rightBrace), .newline, .end])
        XCTAssertEqual(try kinds("a.b[0] != 'x'"), [.name("a"), .symbol(.dot), .name("b"), .symbol(.leftBracket), .number(0), .symbol(.rightBracket), .symbol(.notEqual), .string("x"), .end])
        XCTAssertEqual(try kinds(".5 1_000"), [.number(0.5), .number(1000), .end])
    }

    func testLexerErrorsPointAtTheProblem() {
        XCTAssertThrowsError(try Lexer.tokenize("x = \"open")) { e in
            XCTAssertEqual((e as! LanguageError).message, "unterminated string")
            XCTAssertEqual((e as! LanguageError).location, SourceLocation(line: 1, column: 5))
        }
        XCTAssertThrowsError(try Lexer.tokenize("a $ b")) { XCTAssertEqual(($0 as! LanguageError).message, "unexpected character $") }
        XCTAssertThrowsError(try Lexer.tokenize("1e999")) { XCTAssertTrue(($0 as! LanguageError).message.contains("finite")) }
        XCTAssertThrowsError(try Lexer.tokenize("\u{7}")) { XCTAssertEqual(($0 as! LanguageError).message, "unexpected character U+0007") }
    }

    func testIncompleteInputIsMarked() {
        for source in ["f(1,", "if x {", "[1, 2", "fn g(a) {\n  a"] {
            XCTAssertThrowsError(try Parser.parse(source), source) { XCTAssertTrue(($0 as! LanguageError).incomplete, source) }
        }
        XCTAssertThrowsError(try Parser.parse("f(1))")) { XCTAssertFalse(($0 as! LanguageError).incomplete) }
    }

    func testDiagnosticRendering() {
        let source = "s = cec(kk: 10)"
        let e = LanguageError(.argument, "unknown argument `kk` for `cec`, did you mean `k`?", at: SourceLocation(line: 1, column: 9, length: 2))
        XCTAssertEqual(e.render(source: source, name: "cell 2"), """
            error: unknown argument `kk` for `cec`, did you mean `k`?
             --> cell 2, line 1, column 9
              |
            1 | s = cec(kk: 10)
              |         ^^
            """)
    }

    /// Random and mutated input: a program, or a syntax error that points into the source (a line that exists, a
    /// column within that line or just past its end); never a crash.
    func testParserFuzz() {
        var rng = SplitMix(seed: 1)
        let seeds = ["x = cec(k: 10, beta: 1)", "for i in 1..5 { if i > 2 { print(i) } else { y = [i, {a: 1}] } }",
                     "fn f(a, b) { return a * b % 3 }", "q = s.query(pool, model, budget: 1%)\nplot(cmp, to: \"x.png\")"]
        let alphabet = Array("(){}[],.:=+-*/%<>!\"'#\n abc019_é\u{0}")
        for _ in 0..<3000 {
            var chars = Array(seeds[Int(rng.next() % UInt64(seeds.count))])
            for _ in 0..<(1 + Int(rng.next() % 5)) {
                let op = rng.next() % 3, at = Int(rng.next() % UInt64(chars.count + 1))
                if op == 0, !chars.isEmpty, at < chars.count { chars.remove(at: at) }
                else if op == 1 { chars.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at) }
                else if at < chars.count { chars[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            }
            let source = String(chars)
            let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
            do {
                _ = try Parser.parse(source)
            } catch let e as LanguageError {
                XCTAssertEqual(e.kind, .syntax, "\(e.kind) for \(source.debugDescription)")
                guard let at = e.location else { XCTFail("no location: \(e.message) for \(source.debugDescription)"); continue }
                XCTAssertTrue((1...lines.count).contains(at.line), "line \(at.line) of \(lines.count): \(source.debugDescription)")
                if (1...lines.count).contains(at.line) {
                    XCTAssertTrue((1...(lines[at.line - 1].count + 1)).contains(at.column), "column \(at.column) on line \(at.line): \(source.debugDescription)")
                }
            } catch {
                XCTFail("\(error) is not a language error, for \(source.debugDescription)")
            }
        }
        // Deep nesting is an error, not a stack overflow.
        XCTAssertThrowsError(try Parser.parse(String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)))
        XCTAssertThrowsError(try Parser.parse(String(repeating: "-", count: 100_000) + "1"))
        XCTAssertThrowsError(try Parser.parse(String(repeating: "[", count: 5000)))
    }
}

final class InterpreterTests: XCTestCase {
    func make() -> (Interpreter, RecordingHost, Registry) {
        let host = RecordingHost(), registry = Registry()
        registry.register(Builtin("add", [Parameter("a", .number), Parameter("b", .number, default: .number(10), "second")],
                                  summary: "adds") { args, _ in .number(args.number("a") + args.number("b")) })
        registry.register(Builtin("pick", [Parameter("k", .integer, default: .number(10)), Parameter("kernel", .choice(["rbf", "cosine"]), default: .string("rbf")),
                                           Parameter("budget", .countOrPercent, default: .percent(1))],
                                  summary: "checks arguments") { args, _ in .string("\(args.int("k")) \(args.string("kernel")) \(args["budget"])") })
        let interp = Interpreter(registry: registry, host: host)
        return (interp, host, registry)
    }

    func value(_ source: String) throws -> String {
        let (interp, _, _) = make()
        return try interp.run(source)?.description ?? "none"
    }

    func testExpressionsAndStatements() throws {
        XCTAssertEqual(try value("1 + 2 * 3"), "7")
        XCTAssertEqual(try value("(1 + 2) * 3 / 2"), "4.5")
        XCTAssertEqual(try value("2% * 300"), "6")
        XCTAssertEqual(try value("1% + 2%"), "3%")
        XCTAssertEqual(try value("\"a\" + 1"), "a1")
        XCTAssertEqual(try value("[1, 2] + [3]"), "[1, 2, 3]")
        XCTAssertEqual(try value("{a: 1, b: \"x\"}.b"), "x")
        XCTAssertEqual(try value("[10, 20, 30][-1]"), "30")
        XCTAssertEqual(try value("not (1 < 2) or 3 >= 3 and true"), "true")
        XCTAssertEqual(try value("t = 0\nfor i in 1..5 { t = t + i }\nt"), "10")
        XCTAssertEqual(try value("fn fact(n) {\n  if n <= 1 { return 1 }\n  return n * fact(n - 1)\n}\nfact(10)"), "3628800")
        XCTAssertEqual(try value("x = 3\nif x > 5 { y = 1 } else if x > 2 { y = 2 } else { y = 3 }\ny"), "2")
        XCTAssertEqual(try value("add(1)"), "11")
        XCTAssertEqual(try value("add(1, b: 2)"), "3")
        XCTAssertEqual(try value("pick(kernel: \"cosine\", budget: 5)"), "10 cosine 5")
    }

    func expectError(_ source: String, _ message: String, line: Int = 1, column: Int, file: StaticString = #filePath, l: UInt = #line) {
        let (interp, _, _) = make()
        XCTAssertThrowsError(try interp.run(source), file: file, line: l) { e in
            let error = e as! LanguageError
            XCTAssertEqual(error.message, message, file: file, line: l)
            XCTAssertEqual(error.location?.line, line, file: file, line: l)
            XCTAssertEqual(error.location?.column, column, file: file, line: l)
        }
    }

    func testArgumentCheckingBeforeAnythingRuns() {
        expectError("pick(kk: 10)", "unknown argument `kk` for `pick`, did you mean `k`?", column: 6)
        expectError("pick(k: 2.5)", "argument `k` of `pick` must be an integer, not a number (2.5)", column: 6)
        expectError("pick(kernel: \"gauss\")", "argument `kernel` of `pick` must be one of \"rbf\"|\"cosine\", not a string (\"gauss\")", column: 6)
        expectError("pick(budget: \"x\")", "argument `budget` of `pick` must be a count or percentage, not a string (\"x\")", column: 6)
        // Python habits and near misses get hints (issue 12 item 17).
        expectError("pick(kernel: \"cosin\")", "argument `kernel` of `pick` must be one of \"rbf\"|\"cosine\", not a string (\"cosin\"); did you mean \"cosine\"?", column: 6)
        expectError("pick(budget: 0.5)", "argument `budget` of `pick` must be a count or percentage, not a number (0.5); did you mean 0.5%?", column: 6)
        expectError("pick(k=10)", "named arguments are written `k: value`, not `k=value`", column: 7)
        expectError("x = True", "unknown name `True`; alvlm writes `true`", column: 5)
        expectError("pick(k: None)", "unknown name `None`; alvlm writes `nil`", column: 9)
        expectError("kernl = 1\nkrenel", "unknown name `krenel`, did you mean `kernl`?", line: 2, column: 1)
        expectError("add()", "`add` needs argument `a` (number)", column: 4)
        expectError("add(1, 2, 3)", "`add` takes at most 2 arguments", column: 11)
        expectError("add(a: 1, a: 2)", "argument `a` is given twice", column: 11)
        expectError("add(b: 1, 2)", "positional arguments must come before named ones", column: 11)
        expectError("ad(1)", "unknown name `ad`, did you mean `add`?", column: 1)
        expectError("x = 1\nx(2)", "a number cannot be called", line: 2, column: 2)
        expectError("1 / 0", "division by zero", column: 3)
        expectError("[1][5]", "index 5 is out of range for 1 items", column: 5)
        expectError("for i in 3 { }", "cannot loop over a number (a list or a range is needed)", column: 10)
        expectError("add = 3", "`add` is a builtin and cannot be reassigned", column: 1)
        expectError("fn f() { return f() }\nf()", "too many nested calls (recursion deeper than 200)", column: 18)
        expectError("if 1 { }", "a condition must be true or false, not a number", column: 4)
    }

    func testReviewRegressions() throws {
        XCTAssertEqual(try value("add(1,\n    b: 2)"), "3", "a named argument on a continuation line")
        XCTAssertThrowsError(try Parser.parse(Array(repeating: "1", count: 100_000).joined(separator: "+"))) {
            XCTAssertTrue(($0 as! LanguageError).message.contains("too long"))
        }
        XCTAssertEqual(try value(Array(repeating: "1", count: 500).joined(separator: " + ")), "500")
        let (interp, _, _) = make()
        try interp.run("fn f(a, b) { return a }")
        XCTAssertThrowsError(try interp.run("f(1, a: 2)")) { XCTAssertTrue(($0 as! LanguageError).message.contains("given twice")) }
    }

    func testStateSurvivesErrorsAndInterruptsStopLoops() throws {
        let (interp, host, _) = make()
        try interp.run("a = 1")
        XCTAssertThrowsError(try interp.run("b = 2\nc = nope"))
        XCTAssertEqual(interp.variable("a")?.description, "1")
        XCTAssertEqual(interp.variable("b")?.description, "2", "statements before the error ran")
        host.cancelled = true
        XCTAssertThrowsError(try interp.run("for i in 0..1000000 { a = a + 1 }")) { XCTAssertEqual(($0 as! LanguageError).kind, .interrupted) }
        host.cancelled = false
        XCTAssertEqual(try interp.run("a")?.description, "1")
    }

    func testHelpComesFromTheRegistry() {
        let (_, _, registry) = make()
        XCTAssertEqual(registry.help("add"), "add(a, b: 10)\n  adds\n  arguments:\n    a: number (required)\n    b: number = 10 - second")
        XCTAssertTrue(registry.help(nil)!.contains("pick"))
        XCTAssertNil(registry.help("nothing"))
    }

    /// `help`, `help NAME`, `NAME?` and `vars` are the same commands in every mode: the interpreter rewrites whole
    /// lines of those forms (and nothing else) before parsing, keeping line numbers (issue 12 item 10).
    func testHelpCommandsAreRewrittenLineByLine() throws {
        XCTAssertEqual(Help.rewrite("help"), "help()")
        XCTAssertEqual(Help.rewrite("  vars  "), "  vars()")
        XCTAssertEqual(Help.rewrite("help cec\nx = 1\n  s.scores?"), "help(\"cec\")\nx = 1\n  help(\"s.scores\")")
        XCTAssertEqual(Help.rewrite("help \"experiment.step\""), "help(\"experiment.step\")")
        for unchanged in ["help(\"cec\")", "helper = 1", "x = \"help me?\"", "help 1 + 2", "?", "a.?", "print(help)"] {
            XCTAssertEqual(Help.rewrite(unchanged), unchanged)
        }
        let (interp, host, registry) = make()
        Help.register(into: registry)
        try interp.run("x = 2\nhelp add\nadd?\nx?\nvars")
        XCTAssertEqual(host.lines, [registry.help("add")!, registry.help("add")!, "x is a number: 2", "  x: number"])
        XCTAssertThrowsError(try interp.run("y = 1\nhelp ad")) { error in
            let e = error as! LanguageError
            XCTAssertEqual(e.location?.line, 2)
            XCTAssertTrue(e.message.contains("no help for `ad`; did you mean `add`?"), e.message)
        }
    }
}

/// Every registered builtin and method checks its arguments before running: an unknown argument name is
/// reported with the call's name, and a value of the wrong type names the parameter.
/// The everyday builtins (issue 12 item 16), against values worked out by hand.
final class StandardLibraryTests: XCTestCase {
    func value(_ source: String) throws -> String {
        let registry = Registry()
        StandardLibrary.register(into: registry)
        return try Interpreter(registry: registry, host: RecordingHost()).run(source)?.description ?? "none"
    }

    func testEverydayBuiltins() throws {
        XCTAssertEqual(try value("sum([1, 2, 3.5])"), "6.5")
        XCTAssertEqual(try value("sum([])"), "0")
        XCTAssertEqual(try value("sum([50%, 0.25])"), "0.75")
        XCTAssertEqual(try value("mean([1, 2, 6])"), "3")
        XCTAssertEqual(try value("min([3, -1, 2])"), "-1")
        XCTAssertEqual(try value("max([\"b\", \"c\", \"a\"])"), "c")
        XCTAssertEqual(try value("abs(-2.5)"), "2.5")
        XCTAssertEqual(try value("sort([3, 1, 2])"), "[1, 2, 3]")
        XCTAssertEqual(try value("sort([\"b\", \"a\"], reverse: true)"), "[\"b\", \"a\"]")
        XCTAssertEqual(try value("sort([])"), "[]")
        XCTAssertEqual(try value("\"acc \" + str(0.5)"), "acc 0.5")
        XCTAssertEqual(try value("range(3)"), "[0, 1, 2]")
        XCTAssertEqual(try value("range(2, 9, step: 3)"), "[2, 5, 8]")
        XCTAssertEqual(try value("range(3, 0, step: -1)"), "[3, 2, 1]")
        XCTAssertEqual(try value("range(3, 3)"), "[]")
        XCTAssertEqual(try value("sum(1..5)"), "10")
        // An inclusive range, `;` between statements, `_` for the last value shown (issue 12 item 16).
        XCTAssertEqual(try value("sum(1..=5)"), "15")
        XCTAssertEqual(try value("x = 2; y = 3; x * y"), "6")
        XCTAssertEqual(try value("6 * 7\n_ + 1"), "43")
        XCTAssertEqual(try value("6 * 7\nfor i in 1..=3 { i + 100 }\n_"), "42", "values inside a loop are not shown, so `_` keeps the last shown")
        for (code, message) in [("mean([])", "the list is empty"), ("min([1, \"a\"])", "found string"), ("range(1, 5, step: 0)", "step must not be 0"),
                                ("range(0, 100000000)", "at most 10000000"), ("sum([nil])", "found nil")] {
            XCTAssertThrowsError(try value(code), code) { XCTAssertTrue("\($0)".contains(message), "\(code): \($0)") }
        }
    }

    /// `time(expr)` evaluates its argument once, inside the timing, prints the wall time and returns the value;
    /// an error inside points at the inner expression (issue 12 item 18).
    func testTimeEvaluatesItsArgumentOnceAndReturnsIt() throws {
        let registry = Registry()
        StandardLibrary.register(into: registry)
        var calls = 0
        registry.register(Builtin("tick", [], summary: "counts calls") { _, _ in calls += 1; return .null })
        let host = RecordingHost()
        let interp = Interpreter(registry: registry, host: host)
        try interp.run("fn work() { tick()\n return sum(range(200000)) }")
        XCTAssertEqual(try interp.run("x = time(work())\nx")?.description, "19999900000")
        XCTAssertEqual(calls, 1)
        XCTAssertEqual(host.lines.count, 1)
        let line = try XCTUnwrap(host.lines.first)
        XCTAssertTrue(line.hasPrefix("wall time: ") && (line.hasSuffix(" ms") || line.hasSuffix(" s")), line)
        XCTAssertEqual(StandardLibrary.formatSeconds(0.25), "250 ms")
        XCTAssertEqual(StandardLibrary.formatSeconds(4.214), "4.21 s")
        XCTAssertEqual(StandardLibrary.formatSeconds(125.3), "2 min 5.3 s")
        XCTAssertThrowsError(try interp.run("time(1 +\n  nope)")) { error in
            let e = error as! LanguageError
            XCTAssertEqual(e.location?.line, 2)
            XCTAssertTrue(e.message.contains("unknown name `nope`"), e.message)
        }
        XCTAssertEqual(host.lines.count, 1, "no time is printed for a failed evaluation")
    }
}
