import AlvlmTestSupport
import XCTest
import AlvlmEngine

/// `alvlm run`: the notebook format, parameters, expectations, reports and their failure modes.
final class NotebookTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// The binary with this test's own cache (no test sees another's files or the user's).
    func alvlm(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runAlvlm(arguments, environment: ["ALVLM_CACHE": dir + "/cache"])
    }

    let notebook = """
        # %% [markdown]
        # # Title
        # Prose.

        # %% tags=["parameters"]
        seed = 1
        name = "demo"

        # %% id="compute"
        x = 40 + 2
        print(x)
        # expect: 42

        # %%
        hist([1, 2, 2, 3], bins: 3, range: [0, 4])
        print(name + " " + seed)

        # %% id="mistake"
        cec(kk: 1)
        # expect error: unknown argument `kk`
        """

    func write(_ text: String, _ name: String = "nb.alnb") throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testRunWritesReportsAndChecksExpectations() throws {
        let nb = try write(notebook)
        let r = try alvlm(["run", nb, "-o", dir + "/report.md", "-p", "seed=7", "-p", "name=hello", "--ipynb", dir + "/report.ipynb", "--check"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        XCTAssertTrue(md.hasPrefix("---\nnotebook: \(nb)\n"), md)
        XCTAssertTrue(md.contains("parameters:\n  seed: 7\n  name: \"hello\"\nalvlm: "), md)
        XCTAssertTrue(md.contains("\ngnuplot: ") && md.contains("\nmodels: []\nseeds: []\nstatus: ok\n---"), md)
        XCTAssertTrue(md.contains("# cell 2 (injected parameters)\nseed = 7\nname = \"hello\""), md)
        XCTAssertTrue(md.contains("```text\n42\n```"), md)
        XCTAssertTrue(md.contains("```text\nhello 7\n```"), md)
        XCTAssertTrue(md.contains("![cell 4 figure 1](report_files/cell-4-1.png)"), md)
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/gnuplot") {
            let png = try ImageDecoder.decode(path: dir + "/report_files/cell-4-1.png")
            XCTAssertGreaterThan(png.width, 100)
        }
        // nbformat 4.5: required keys, unique valid ids, outputs and execution counts on code cells, base64 PNG.
        let nb45 = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/report.ipynb"))) as? [String: Any])
        XCTAssertEqual(nb45["nbformat"] as? Int, 4)
        XCTAssertEqual(nb45["nbformat_minor"] as? Int, 5)
        XCTAssertNotNil(nb45["metadata"] as? [String: Any])
        let cells = try XCTUnwrap(nb45["cells"] as? [[String: Any]])
        let ids = cells.map { $0["id"] as! String }
        XCTAssertEqual(Set(ids).count, ids.count)
        XCTAssertTrue(ids.allSatisfy { (1...64).contains($0.count) && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } })
        XCTAssertTrue(ids.contains("compute") && ids.contains("mistake") && ids.contains("injected-parameters"))
        for cell in cells where cell["cell_type"] as? String == "code" {
            XCTAssertNotNil(cell["outputs"] as? [Any]); XCTAssertNotNil(cell["execution_count"])
        }
        let images = cells.flatMap { ($0["outputs"] as? [[String: Any]]) ?? [] }.compactMap { ($0["data"] as? [String: Any])?["image/png"] as? String }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/gnuplot") {
            XCTAssertEqual(images.count, 1)
            XCTAssertEqual(Data(base64Encoded: images[0])?.prefix(4), Data([0x89, 0x50, 0x4E, 0x47]))
        }
    }

    func testFailingCellStopsWithItsNumberAndLine() throws {
        let nb = try write("# %%\na = 1\n# %%\nb = nope + 1\n# %%\nprint(\"never\")\n")
        let r = try alvlm(["run", nb, "-o", dir + "/r.md"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("error: cell 2, line 4 of \(nb): unknown name `nope`"), r.stderr)
        let md = try String(contentsOfFile: dir + "/r.md", encoding: .utf8)
        XCTAssertTrue(md.contains("status: failed at cell 2") && md.contains("*(not run)*"), md)
        // --allow-errors: every error allowed, so the run succeeds; the errors are reported and recorded.
        let allowed = try alvlm(["run", nb, "-o", dir + "/r2.md", "--allow-errors"])
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertTrue(allowed.stderr.contains("error: cell 2, line 4") && allowed.stderr.contains("errors allowed in cell 2"), allowed.stderr)
        let allowedReport = try String(contentsOfFile: dir + "/r2.md", encoding: .utf8)
        XCTAssertTrue(allowedReport.contains("never") && allowedReport.contains("status: errors allowed in cell 2\n"), allowedReport)
        let mismatch = try write("# %%\nprint(1)\n# expect: 2\n# %%\nprint(3)\n# expect error: nope\n", "m.alnb")
        XCTAssertEqual(try alvlm(["run", mismatch, "-o", dir + "/m.md"]).status, 0)
        XCTAssertTrue(try String(contentsOfFile: dir + "/m.md", encoding: .utf8).contains("status: ok\n"))
        let checked = try alvlm(["run", mismatch, "-o", dir + "/m.md", "--check"])
        XCTAssertEqual(checked.status, 1)
        XCTAssertTrue(checked.stderr.contains("expected output containing \"2\""), checked.stderr)
        // --check failures are in the front matter, not "ok".
        XCTAssertTrue(try String(contentsOfFile: dir + "/m.md", encoding: .utf8).contains("status: expectation mismatch in cells 1, 2\n"))
        let both = try alvlm(["run", mismatch, "-o", dir + "/m.md", "--check", "--allow-errors"])
        XCTAssertEqual(both.status, 1, "an expectation that does not hold fails --check even with --allow-errors")
    }

    func testBadNotebooksFailBeforeAnyCellRuns() throws {
        let good = try write(notebook)
        let cases: [([String], String)] = [
            (["run", try write("# %% [markdwn]\nx\n", "t.alnb")], "unknown cell type [markdwn]"),
            (["run", try write("# %% tags=[parameters]\nx = 1\n", "u.alnb")], "malformed tag"),
            (["run", try write("# %% id=\"a b\"\nx = 1\n", "v.alnb")], "cell id"),
            (["run", good, "-p", "budget=3"], "unknown parameter budget"),
            (["run", good, "-p", "seed=abc"], "parameter seed is a number, not string"),
            (["run", good, "-p", "seed"], "-p takes NAME=VALUE"),
            (["run", dir + "/missing.alnb"], "cannot read the notebook"),
        ]
        for (args, message) in cases {
            let r = try alvlm(args + ["-o", dir + "/out.md"])
            XCTAssertEqual(r.status, 1, message)
            XCTAssertTrue(r.stderr.contains(message), "expected \(message): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out.md"), "nothing ran, nothing was written")
        }
        try Data([0x23, 0x20, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: dir + "/binary.alnb"))
        let binary = try alvlm(["run", dir + "/binary.alnb", "-o", dir + "/out.md"])
        XCTAssertEqual(binary.status, 1)
        XCTAssertTrue(binary.stderr.contains("not UTF-8"), binary.stderr)
    }
}

final class ShippedNotebookTests: XCTestCase {
    let notebooks = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Notebooks").path

    /// Runs the alvlm binary beside the test bundle; returns its exit status and standard error.
    func alvlm(_ arguments: [String], environment: [String: String] = [:], in directory: String? = nil) throws -> (status: Int32, stderr: String) {
        let r = try runAlvlm(arguments, environment: environment, directory: directory)
        return (r.status, r.stderr)
    }

    /// The reproduction notebook parses, and without the downloads it stops with a clear message.
    func testReproductionNotebookRefusesWithoutTheDownloads() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, text) = try alvlm(["run", notebooks + "/05-reproduce-paper.alnb", "-o", dir + "/r.md",
                                        "-p", "model_path=\(dir)/no-model", "-p", "data_root=\(dir)"], environment: ["ALVLM_CACHE": dir + "/cache"])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(text.contains("cell 4, line 43") && text.contains("no-model: model directory not found"), text)
        let report = try String(contentsOfFile: dir + "/r.md", encoding: .utf8)
        XCTAssertTrue(report.contains("paper, DescribableTextures: zero-shot 44.3%, CEC at 1/2/5%: [47.9, 52.8, 58.2]"), report)
    }

    /// Notebooks 01-04 and 08 run headless on the texture world with their expectations checked, at reduced sizes
    /// (parameters), each writing a Markdown report with figures and an nbformat notebook.
    func testTeachingNotebooksRunAndPassTheirChecks() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let small = ["train=400", "test_per_class=5", "epochs=3"]
        let runs: [(String, [String])] = [
            ("01-quickstart", small + ["seeds=1", "rounds=2"]),
            ("02-budget-what-if", small + ["seeds=1", "rounds=2", "budgets=[1%, 5%]"]),
            ("03-calibration", small + ["seeds=1", "rounds=2"]),
            ("04-human-in-the-loop", small + ["workdir=\(dir)/hitl"]),
            ("07-after-cec", ["train=400", "test_per_class=5", "seeds=1", "rounds=2"]),
            ("08-prompt-learners", ["train=200", "test_per_class=3", "seeds=1", "rounds=2"]),
        ]
        for (name, parameters) in runs {
            let (status, text) = try alvlm(["run", "\(notebooks)/\(name).alnb", "-o", "\(dir)/\(name).md", "--ipynb", "\(dir)/\(name).ipynb", "--check"]
                                            + parameters.flatMap { ["-p", $0] }, environment: ["ALVLM_CACHE": dir + "/cache"], in: dir)
            XCTAssertEqual(status, 0, "\(name): \(text.suffix(2000))")
            let report = try String(contentsOfFile: "\(dir)/\(name).md", encoding: .utf8)
            XCTAssertTrue(report.contains("status: ok"), name)
            XCTAssertTrue(report.contains("_files/cell-"), "\(name) has figures")
            let notebook = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name).ipynb"))) as? [String: Any]
            XCTAssertEqual(notebook?["nbformat"] as? Int, 4, name)
            // Every figure is its own (a later cell's plot never replaces an earlier cell's).
            let files = "\(dir)/\(name)_files"
            let figures = try FileManager.default.contentsOfDirectory(atPath: files).map { try Data(contentsOf: URL(fileURLWithPath: "\(files)/\($0)")) }
            XCTAssertEqual(Set(figures).count, figures.count, "\(name): identical figures")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/hitl/round-1-label-studio.json"))
        // Notebook 02 shows a table per budget from inside its loop (issue 12 item 12).
        let budgets = try String(contentsOfFile: "\(dir)/02-budget-what-if.md", encoding: .utf8)
        for b in ["1%", "5%"] {
            XCTAssertTrue(budgets.range(of: "budget \(b) per round\nstrategy +round 1: [^\n]+ +round 2: [^\n]+ +AULC\n", options: .regularExpression) != nil, budgets)
        }
        // Notebook 07 reports both protocols, labels saved, an explanation and maps.
        let after = try String(contentsOfFile: "\(dir)/07-after-cec.md", encoding: .utf8)
        for text in ["(one per class per round)", "oracle labels saved this round", "Picked as the sample", "cb + sq: accuracy"] {
            XCTAssertTrue(after.contains(text), text)
        }
        // Notebook 08 compares random and CEC under each of the three prompt learners.
        let learners = try String(contentsOfFile: "\(dir)/08-prompt-learners.md", encoding: .utf8)
        for name in ["coop", "vpt", "maple"] {
            XCTAssertTrue(learners.range(of: "\(name)\nstrategy +round 1: [^\n]+ +round 2: [^\n]+ +AULC\nrandom .*\ncec ", options: .regularExpression) != nil, learners)
            XCTAssertTrue(learners.contains("\(name): random "), name)
        }
    }
}
