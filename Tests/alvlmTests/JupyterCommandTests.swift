import AlvlmTestSupport
import XCTest

/// `alvlm convert` between .alnb and .ipynb, and `alvlm kernel install/uninstall` (the kernel itself is tested
/// under Jupyter's own test suite by Scripts/test_jupyter.sh).
final class JupyterCommandTests: XCTestCase {
    let notebooks = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Notebooks").path
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "alvlm-jupyter-commands-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func alvlm(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runAlvlm(arguments, environment: ["ALVLM_CACHE": dir + "/cache"].merging(environment) { _, given in given })
    }

    func cells(_ path: String) throws -> [[String: Any]] {
        let nb = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        return try XCTUnwrap(nb["cells"] as? [[String: Any]])
    }

    /// alnb -> ipynb -> alnb gives the same text; the ipynb has the alvlm kernelspec, ids, tags, no outputs, and
    /// an injected-parameters cell for -p; a cell expecting an error is tagged raises-exception.
    func testConvertBothWaysKeepsCells() throws {
        let source = notebooks + "/04-human-in-the-loop.alnb"
        let r = try alvlm(["convert", source, "--to", "ipynb", "-o", dir + "/a.ipynb", "-p", "epochs=2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let nb = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/a.ipynb"))) as? [String: Any])
        XCTAssertEqual(nb["nbformat"] as? Int, 4); XCTAssertEqual(nb["nbformat_minor"] as? Int, 5)
        XCTAssertEqual(((nb["metadata"] as? [String: Any])?["kernelspec"] as? [String: Any])?["name"] as? String, "alvlm")
        let converted = try cells(dir + "/a.ipynb")
        let parametersAt = try XCTUnwrap(converted.firstIndex { (($0["metadata"] as? [String: Any])?["tags"] as? [String])?.contains("parameters") ?? false })
        XCTAssertEqual(converted[parametersAt + 1]["source"] as? String, "epochs = 2")
        XCTAssertEqual(converted[parametersAt + 1]["id"] as? String, "injected-parameters")
        for cell in converted where cell["cell_type"] as? String == "code" {
            XCTAssertEqual((cell["outputs"] as? [Any])?.count, 0)
            let tags = ((cell["metadata"] as? [String: Any])?["tags"] as? [String]) ?? []
            XCTAssertEqual(tags.contains("raises-exception"), (cell["source"] as? String ?? "").contains("# expect error:"))
        }
        // Back to text without the injected cell: the same notebook (the raises-exception tag aside).
        XCTAssertEqual(try alvlm(["convert", source, "--to", "ipynb", "-o", dir + "/b.ipynb"]).status, 0)
        let back = try alvlm(["convert", dir + "/b.ipynb", "--to", "alnb", "-o", dir + "/b.alnb"])
        XCTAssertEqual(back.status, 0, back.stderr)
        XCTAssertEqual(try alvlm(["convert", dir + "/b.alnb", "--to", "ipynb", "-o", dir + "/c.ipynb"]).status, 0)
        func comparable(_ cells: [[String: Any]]) -> [String] {
            cells.map { "\($0["cell_type"]!)|\($0["id"]!)|\((($0["metadata"] as? [String: Any])?["tags"] as? [String]) ?? [])|\($0["source"]!)" }
        }
        XCTAssertEqual(comparable(try cells(dir + "/b.ipynb")), comparable(try cells(dir + "/c.ipynb")))
        XCTAssertEqual(try cells(dir + "/b.ipynb").count, try cells(dir + "/c.ipynb").count)
        // Sources given as lists of lines, as Jupyter writes them; outputs are dropped.
        let jupyter: [String: Any] = ["nbformat": 4, "nbformat_minor": 5, "metadata": [:], "cells": [
            ["cell_type": "markdown", "id": "intro", "metadata": [:], "source": ["# Title\n", "\n", "text"]],
            ["cell_type": "code", "id": "c1", "metadata": ["tags": ["parameters"]], "source": ["x = 1\n", "print(x)"],
             "outputs": [["output_type": "stream", "name": "stdout", "text": "1\n"]], "execution_count": 1],
        ]]
        try JSONSerialization.data(withJSONObject: jupyter).write(to: URL(fileURLWithPath: dir + "/j.ipynb"))
        XCTAssertEqual(try alvlm(["convert", dir + "/j.ipynb", "--to", "alnb"]).status, 0)
        let text = try String(contentsOfFile: dir + "/j.alnb", encoding: .utf8)
        XCTAssertEqual(text, "# %% [markdown] id=\"intro\"\n# # Title\n#\n# text\n\n# %% tags=[\"parameters\"] id=\"c1\"\nx = 1\nprint(x)\n")
        let run = try alvlm(["run", dir + "/j.alnb", "-o", dir + "/j.md", "-p", "x=5"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(try String(contentsOfFile: dir + "/j.md", encoding: .utf8).contains("# cell 2 (injected parameters)\nx = 5\n"))
        // Bad input: a clear one-line error.
        try "{\"cells\": 3}".write(toFile: dir + "/bad.ipynb", atomically: true, encoding: .utf8)
        let bad = try alvlm(["convert", dir + "/bad.ipynb", "--to", "alnb"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("not a Jupyter notebook"), bad.stderr)
        let unknown = try alvlm(["convert", source, "--to", "ipynb", "-o", dir + "/x.ipynb", "-p", "nope=1"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("unknown parameter nope"), unknown.stderr)
    }

    func testKernelspecInstallAndUninstall() throws {
        let r = try alvlm(["kernel", "install", "--prefix", dir, "--name", "alvlm-test"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let spec = dir + "/share/jupyter/kernels/alvlm-test/kernel.json"
        XCTAssertTrue(r.stdout.contains(dir + "/share/jupyter/kernels/alvlm-test"), r.stdout)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: spec))) as? [String: Any])
        let argv = try XCTUnwrap(json["argv"] as? [String])
        XCTAssertEqual(Array(argv.dropFirst()), ["kernel", "-f", "{connection_file}"])
        XCTAssertTrue(argv[0].hasPrefix("/") && FileManager.default.isExecutableFile(atPath: argv[0]), argv[0])
        XCTAssertEqual(json["language"] as? String, "alvlm")
        XCTAssertEqual(json["interrupt_mode"] as? String, "message")
        let user = try alvlm(["kernel", "install"], environment: ["JUPYTER_DATA_DIR": dir + "/user"])
        XCTAssertEqual(user.status, 0, user.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/user/kernels/alvlm/kernel.json"))
        XCTAssertEqual(try alvlm(["kernel", "uninstall", "--prefix", dir, "--name", "alvlm-test"]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: spec))
        let again = try alvlm(["kernel", "uninstall", "--prefix", dir, "--name", "alvlm-test"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("no kernelspec there"), again.stderr)
        XCTAssertNotEqual(try alvlm(["kernel", "install", "--prefix", dir, "--user"]).status, 0)
        XCTAssertNotEqual(try alvlm(["kernel", "install", "--prefix", dir, "--name", "a/b"]).status, 0)
        let noFile = try alvlm(["kernel", "-f", dir + "/missing.json"])
        XCTAssertEqual(noFile.status, 1)
        XCTAssertTrue(noFile.stderr.contains("missing.json: cannot read the connection file"), noFile.stderr)
    }
}
