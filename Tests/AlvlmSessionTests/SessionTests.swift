import AlvlmActive
import AlvlmEngine
import AlvlmLanguage
import AlvlmPlot
import AlvlmSettings
import AlvlmTestSupport
import Foundation
import XCTest
@testable import AlvlmSession

/// A session with settings of its own (nothing from the test's environment), printing into `lines`.
func quietSession(home: String, environment: [String: String] = [:]) -> (Session, RecordingLines) {
    let session = Session(settings: Settings(environment: environment, home: home))
    let lines = RecordingLines()
    session.output = { lines.items.append($0) }
    return (session, lines)
}

final class RecordingLines { var items: [String] = [] }

/// Figures go through the host: what the plot builtins hand over, and the gnuplot program made of it.
final class PlotRoutingTests: XCTestCase {
    func testPlotBuiltinsHandTheirFiguresToTheHost() throws {
        let (session, _) = quietSession(home: NSTemporaryDirectory())
        var drawn: [(Figure, String?)] = []
        session.drawFigure = { figure, output in drawn.append((figure, output)); return "drawn" }
        XCTAssertNil(session.evaluate("plot([0.3, 0.5, 0.6], to: \"/tmp/curve.png\")\nhist([1, 2, 2, 3], bins: 3, range: [0, 4])"))
        XCTAssertEqual(drawn.count, 2)
        XCTAssertEqual(drawn[0].1, "/tmp/curve.png")
        XCTAssertNil(drawn[1].1)
        // The line plot: a PNG terminal, the output file, and the values against 0, 1, 2.
        let curve = try session.plotter.program(drawn[0].0, output: "/tmp/curve.png")
        XCTAssertTrue(curve.setup.hasPrefix("set terminal pngcairo") && curve.setup.contains("set output '/tmp/curve.png'"), curve.setup)
        XCTAssertEqual(curve.tables.count, 1)
        XCTAssertEqual(curve.tables[0].column(0), [0, 1, 2])
        XCTAssertEqual(curve.tables[0].column(1), [0.3, 0.5, 0.6])
        // The histogram: three bins over [0, 4] with their centres, counts and widths, drawn as text here.
        let hist = try session.plotter.program(drawn[1].0, output: nil)
        XCTAssertTrue(hist.setup.contains("set xrange [0:4]\n"), hist.setup)
        XCTAssertTrue(hist.setup.hasPrefix("set terminal dumb") || hist.setup.hasPrefix("set terminal sixelgd"), hist.setup)
        let bins = try XCTUnwrap(hist.tables.first)
        for (i, (centre, count)) in zip([2.0 / 3, 2, 10.0 / 3], [1.0, 2, 1]).enumerated() {
            XCTAssertEqual(bins.column(0)[i], centre, accuracy: 1e-12)
            XCTAssertEqual(bins.column(1)[i], count)
            XCTAssertEqual(bins.column(2)[i], 4.0 / 3, accuracy: 1e-12)
        }
        // Notebook runs: a plot without `to:` becomes a numbered figure file the host is told about.
        session.figureDirectory = "/tmp/figs"
        XCTAssertNil(session.evaluate("plot([1, 2])\nplot([3, 4])"))
        XCTAssertEqual(drawn.suffix(2).map(\.1), ["/tmp/figs/figure-1.png", "/tmp/figs/figure-2.png"])
        XCTAssertEqual(session.figures, ["/tmp/figs/figure-1.png", "/tmp/figs/figure-2.png"])
    }
}

/// The host passes its callbacks in: a person labelling, cancellation, and completion over the session's names.
final class SessionHostTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testTheTerminalLabellerResolvesAnswersAndJournalsThem() throws {
        let (session, lines) = quietSession(home: dir, environment: ["ALVLM_CACHE": dir + "/cache"])
        let pool = try Pool(name: "p", classNames: ["banded", "dotted", "dotty"],
                            samples: (0..<4).map { Sample(id: $0, path: "/nowhere/\($0).png", split: .train, label: $0 % 3) })
        var answers = ["", "zzz", "dot", "dotted", "s", "2", "u", "0", "banded"]
        session.labelWith { _ in answers.isEmpty ? nil : answers.removeFirst() }
        let labeller = try XCTUnwrap(session.labeller)
        let given = try labeller([0, 1, 2, 3], pool)
        // "" asks again, "zzz" is no class, "dot" is ambiguous, "dotted" answers id 0, s skips id 1, "2" answers
        // id 2, u (at id 3) undoes it, "0" answers id 2 again, "banded" answers id 3.
        XCTAssertEqual(given, [0: 1, 2: 0, 3: 0])
        XCTAssertTrue(lines.items.contains("not a class: zzz"), "\(lines.items)")
        XCTAssertTrue(lines.items.contains("ambiguous: dotted, dotty"), "\(lines.items)")
        XCTAssertTrue(lines.items.contains("  skipped id 1"), "\(lines.items)")
        // Every answer reached the journal inside the cache folder before it was used, the undo as a retraction.
        let journal = try String(contentsOfFile: dir + "/cache/labels.journal", encoding: .utf8)
        XCTAssertEqual(journal.split(separator: "\n").map { $0.split(separator: "\t").prefix(2).joined(separator: " ") }, ["0 1", "2 2", "2 -1", "2 0", "3 0"])
    }

    func testInterruptsComeFromTheHost() {
        let (session, _) = quietSession(home: dir)
        var flag = false
        session.interruptRequested = { flag }
        session.resetInterrupt = { flag = false }
        XCTAssertNil(session.evaluate("x = 1"))
        flag = true
        XCTAssertTrue(session.isCancelled)
        // A new input lowers the flag first, as the REPL's Ctrl-C at the prompt expects.
        XCTAssertNil(session.evaluate("y = 2"))
        XCTAssertFalse(flag)
    }

    func testCompletionOffersTheSessionsNames() throws {
        let (session, _) = quietSession(home: dir)
        XCTAssertNil(session.evaluate("pool_size = 3\nstrategy = cec()"))
        XCTAssertEqual(Completion.candidates(before: "", prefix: "pool_s", session: session), ["pool_size"])
        XCTAssertTrue(Completion.candidates(before: "", prefix: "pri", session: session).contains("print"))
        XCTAssertTrue(Completion.candidates(before: "x = strategy.", prefix: "", session: session).isEmpty == false)
        FileManager.default.createFile(atPath: dir + "/notes.alnb", contents: Data())
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        XCTAssertEqual(Completion.paths(dir + "/no"), [dir + "/notes.alnb"])
        XCTAssertEqual(Completion.paths(dir + "/s"), [dir + "/sub/"])
    }
}

/// The notebook format, parsed in-process.
final class NotebookFormatTests: XCTestCase {
    func testCellsTagsAndExpectations() throws {
        let text = "# %% [markdown]\n# A title\n\n# %% tags=[\"parameters\"]\nn = 3\n\n# %%\nprint(n)\n# expect: 3\n"
        let notebook = try Notebook.parse(text)
        XCTAssertEqual(notebook.cells.map(\.kind), [.markdown, .code, .code])
        XCTAssertEqual(notebook.cells[1].tags, ["parameters"])
        XCTAssertEqual(notebook.cells[2].line, 8)
        XCTAssertEqual(notebook.cells[2].expectations.count, 1)
        XCTAssertThrowsError(try Notebook.parse("# %% id=\"a\"\nx = 1\n# %% id=\"a\"\ny = 2\n")) { e in
            XCTAssertEqual((e as? Notebook.FormatError)?.line, 3, "the second marker \(e)")
        }
    }
}

/// One renderer for every source: an error inside a notebook that run_notebook runs is shown against its cell, with
/// the notebook's line numbers and a caret; a malformed notebook the same way.
final class DiagnosticsTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testRunNotebookErrorsPointIntoTheNotebook() throws {
        let (session, _) = quietSession(home: dir)
        try "# %%\nx = 1\n\n# %%\ny = 2\nz = x + nope\n".write(toFile: dir + "/nb.alnb", atomically: true, encoding: .utf8)
        let source = "run_notebook(\"\(dir)/nb.alnb\")"
        let error = try XCTUnwrap(session.evaluate(source))
        XCTAssertEqual(error.render(source: source, name: "-c"), """
            error: unknown name `nope`
             --> \(dir)/nb.alnb, cell 2, line 6, column 9
              |
            6 | z = x + nope
              |         ^^^^
            """)
        XCTAssertEqual(session.interpreter.variable("y")?.description, "2", "the cells before the error ran")
        try "# %% id=\"a\"\nx = 1\n# %% id=\"a\"\n".write(toFile: dir + "/bad.alnb", atomically: true, encoding: .utf8)
        let bad = try XCTUnwrap(session.evaluate("run_notebook(\"\(dir)/bad.alnb\")"))
        XCTAssertEqual(bad.render(source: "", name: nil), """
            error: cell id "a" is used twice
             --> \(dir)/bad.alnb, line 3, column 1
              |
            3 | # %% id="a"
              | ^^^^^^^^^^^
            """)
    }

    /// `return` outside a function is refused before anything runs, with its place.
    func testReturnOutsideAFunctionIsRefusedBeforeRunning() {
        let (session, _) = quietSession(home: dir)
        let error = session.evaluate("w = 1\nif true { return 2 }")
        XCTAssertEqual(error?.message, "`return` outside a function")
        XCTAssertEqual(error?.location?.line, 2)
        XCTAssertEqual(error?.location?.column, 11)
        XCTAssertNil(session.interpreter.variable("w"), "nothing ran")
        XCTAssertNil(session.evaluate("fn f() { if true { return 2 } }\nv = f()"))
        XCTAssertEqual(session.interpreter.variable("v")?.description, "2")
    }
}

/// map(): the same picture for the same inputs, with the query and its cluster centres marked.
final class MapTests: XCTestCase {
    func testMapsAreDeterministicAndMarkTheQuery() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (session, _) = quietSession(home: dir, environment: ["ALVLM_CACHE": dir + "/cache"])
        var drawn: [Figure] = []
        session.drawFigure = { figure, _ in drawn.append(figure); return "" }
        XCTAssertNil(session.evaluate("pool = textures(train: 120, val: 0, test_per_class: 1)\nm = clip(\"tiny\")\nq = cec(k: 5).query(pool, m, budget: 4)\n" +
                                      "map(pool, m, query: q)\nmap(pool, m, query: q)\nmap(pool, m, color: \"uncertainty\")"))
        XCTAssertEqual(drawn.count, 3)
        guard case let .scatter(_, _, _, first) = drawn[0], case let .scatter(_, _, _, second) = drawn[1], case let .scatter(_, _, _, quartiles) = drawn[2] else {
            return XCTFail("scatter plots expected")
        }
        XCTAssertEqual(first.map(\.x), second.map(\.x))
        XCTAssertEqual(first.map(\.y), second.map(\.y))
        XCTAssertEqual(first.first { $0.title == "query (4)" }?.x.count, 4)
        XCTAssertEqual(first.first { $0.title == "cluster centres (4)" }?.marker, .triangle)
        XCTAssertEqual(first.filter { $0.marker == .dot }.map(\.x.count).reduce(0, +), 120, "every sample once in its class group")
        XCTAssertEqual(quartiles.map(\.x.count).reduce(0, +), 120)
        XCTAssertEqual(quartiles.count, 4)
        XCTAssertNotNil(session.evaluate("map(pool)"), "a pool needs a model")
        // explain(..., to:) draws the pick and its neighbours as one picture.
        XCTAssertNil(session.evaluate("x = explain(q, 0, to: \"\(dir)/why.png\")"))
        let picture = try ImageDecoder.decode(path: dir + "/why.png")
        XCTAssertGreaterThan(picture.width, picture.height, "a sheet of 4 columns: the pick and its 5 neighbours")
    }
}
