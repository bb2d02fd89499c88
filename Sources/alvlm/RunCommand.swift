import AlvlmEngine
import AlvlmLanguage
import ArgumentParser
import Foundation

struct RunNotebook: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a notebook (.alnb) headless and write a Markdown report (and optionally an .ipynb).",
        discussion: "Cells run in one interpreter state. -p NAME=VALUE overrides the parameters cell (papermill semantics). " +
            "The run stops at the first failing cell (exit status 1) unless --allow-errors; --check verifies the `# expect` comments.")

    @Argument(help: "The notebook.") var notebook: String
    @Option(name: .shortAndLong, help: "The Markdown report (default: NOTEBOOK.md beside the notebook).") var output: String?
    @Option(name: .short, help: "A parameter override NAME=VALUE (repeatable).") var parameter: [String] = []
    @Option(name: .long, help: "Also write an nbformat 4.5 notebook with the outputs.") var ipynb: String?
    @Flag(name: .customLong("allow-errors"), help: "Keep running after a failing cell.") var allowErrors = false
    @Flag(name: .long, help: "Exit non-zero when an `# expect` comment does not hold.") var check = false

    func run() throws {
        do {
            let runner = try NotebookRunner(path: notebook, overrides: parameter)
            var report = runner.run(allowErrors: allowErrors)
            report.check = check
            defer { if let dir = report.figureDirectory { try? FileManager.default.removeItem(atPath: dir) } }
            let md = output ?? ((notebook as NSString).deletingPathExtension + ".md")
            try report.writeMarkdown(to: md)
            if let ipynb { try report.writeIpynb(to: ipynb) }
            FileHandle.standardError.write(Data("alvlm: wrote \(md)\(ipynb.map { " and \($0)" } ?? "")\n".utf8))
            if let failure = report.failure {
                FileHandle.standardError.write(Data("alvlm: error: cell \(failure.cell), \(failure.message)\n".utf8))
                // With --allow-errors the errors are reported and the run still counts as done.
                if !allowErrors { throw ExitCode(1) }
                let cells = report.errorCells.map(String.init).joined(separator: ", ")
                FileHandle.standardError.write(Data("alvlm: errors allowed in cell\(report.errorCells.count == 1 ? "" : "s") \(cells)\n".utf8))
            }
            if check, !report.mismatches.isEmpty {
                for m in report.mismatches { FileHandle.standardError.write(Data("alvlm: expect failed: \(m)\n".utf8)) }
                throw ExitCode(1)
            }
        } catch let e as Notebook.FormatError {
            FileHandle.standardError.write(Data("alvlm: error: \(notebook): \(e)\n".utf8))
            throw ExitCode(1)
        } catch let e as EngineError {
            FileHandle.standardError.write(Data("alvlm: error: \(e)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Runs a parsed notebook in one session, collecting each cell's text, figures, errors and time.
struct NotebookRunner {
    let path: String
    var notebook: Notebook
    var injected: [(String, String)] = []

    struct CellResult {
        var cell: Notebook.Cell
        var output = ""
        var figures: [String] = []
        var error: String?
        var seconds = 0.0
        var executed = false
    }

    struct Report {
        var path: String
        var parameters: [(String, String)]
        var results: [CellResult]
        var failure: (cell: Int, message: String)?
        var mismatches: [String]
        /// Cells that failed without expecting to, and cells whose `# expect` did not hold.
        var errorCells: [Int] = []
        var mismatchCells: [Int] = []
        var allowErrors = false
        var check = false
        var started: Date
        var seconds: Double
        var figureDirectory: String?
        /// Front-matter lines about the run: versions, the models used, the seeds of experiments and comparisons.
        var provenance: [(String, String)] = []
    }

    init(path: String, overrides: [String]) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else { throw EngineError(.io, "cannot read the notebook", path: path) }
        notebook = try Notebook.parse(data)
        // Parameters: the assignments of the cell tagged "parameters" (literal values give the expected type).
        var defaults: [String: String] = [:]
        if let cell = notebook.cells.first(where: { $0.tags.contains("parameters") }) {
            let probe = ProbeHost()
            let interp = Interpreter(registry: Registry(), host: probe)
            let program = try parseOrFormatError(cell.source, line: cell.line)
            for statement in program {
                if case .assign(let name, _, _) = statement {
                    _ = try? interp.run(cell.source)
                    defaults[name] = interp.variable(name)?.typeName ?? "any"
                }
            }
        }
        for override in overrides {
            guard let eq = override.firstIndex(of: "="), eq != override.startIndex else {
                throw EngineError(.argument, "-p takes NAME=VALUE, not \(override)")
            }
            let name = String(override[..<eq]), raw = String(override[override.index(after: eq)...])
            guard let type = defaults[name] else {
                let known = defaults.keys.sorted().joined(separator: ", ")
                throw EngineError(.argument, "unknown parameter \(name) (the parameters cell defines: \(known.isEmpty ? "none" : known))")
            }
            // A value is read as a literal of the language; bare words are strings.
            let interp = Interpreter(registry: Registry(), host: ProbeHost())
            var literal = raw
            var value = (try? interp.run(raw)).flatMap { $0 }
            if value == nil || (type == "string" && value?.typeName != "string") {
                literal = "\"" + raw.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
                value = .string(raw)
            }
            guard type == "any" || value!.typeName == type || (type == "number" && value!.typeName == "percentage") || (type == "percentage" && value!.typeName == "number") else {
                throw EngineError(.argument, "parameter \(name) is \(type == "integer" ? "an" : "a") \(type), not \(value!.typeName) (\(raw))")
            }
            injected.append((name, literal))
        }
    }

    func parseOrFormatError(_ source: String, line: Int) throws -> [Stmt] {
        do { return try Parser.parse(source) } catch let e as LanguageError {
            throw Notebook.FormatError(line: line + (e.location?.line ?? 1) - 1, message: "the parameters cell does not parse: \(e.message)")
        }
    }

    func run(allowErrors: Bool) -> Report {
        let started = Date()
        let session = Session()
        var results: [CellResult] = []
        let cells = notebookWithParameters().cells
        let figures = NSTemporaryDirectory() + "/alvlm-figures-\(getpid())-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: figures, withIntermediateDirectories: true)
        session.figureDirectory = figures
        var failure: (Int, String)? = nil
        var mismatches: [String] = []
        var errorCells: [Int] = [], mismatchCells: [Int] = []
        var number = 0
        for cell in cells {
            var result = CellResult(cell: cell)
            guard cell.kind == .code else { results.append(result); continue }
            number += 1
            if failure != nil && !allowErrors { results.append(result); continue }
            var text = ""
            session.output = { text += $0 + "\n" }
            session.figures = []
            let t0 = Date()
            let error = session.evaluate(cell.source, name: "cell \(number)")
            result.seconds = Date().timeIntervalSince(t0)
            result.executed = true
            result.output = text
            result.figures = session.figures.filter { FileManager.default.fileExists(atPath: $0) }
            let expectedErrors = cell.expectations.compactMap { if case .error(let m) = $0 { return m }; return nil }
            if let error {
                let rendered = error.render(source: cell.source, name: "cell \(number)")
                result.error = rendered
                if expectedErrors.isEmpty {
                    errorCells.append(number)
                    if failure == nil {
                        let where_ = error.location.map { "line \(cell.line + $0.line - 1) of \(path)" } ?? path
                        failure = (number, "\(where_): \(error.message)")
                    }
                } else if !expectedErrors.contains(where: { error.message.contains($0) }) {
                    mismatchCells.append(number)
                    mismatches.append("cell \(number): expected an error containing \"\(expectedErrors[0])\", got \"\(error.message)\"")
                }
            } else if let first = expectedErrors.first {
                mismatchCells.append(number)
                mismatches.append("cell \(number): expected an error containing \"\(first)\", but the cell ran")
            }
            for case .output(let expected) in cell.expectations where !text.contains(expected) {
                if mismatchCells.last != number { mismatchCells.append(number) }
                mismatches.append("cell \(number): expected output containing \"\(expected)\"")
            }
            results.append(result)
        }
        var report = Report(path: path, parameters: injected, results: results, failure: failure.map { (cell: $0.0, message: $0.1) },
                            mismatches: mismatches, started: started, seconds: Date().timeIntervalSince(started), figureDirectory: figures)
        report.errorCells = errorCells
        report.mismatchCells = mismatchCells
        report.allowErrors = allowErrors
        report.provenance = session.provenance()
        return report
    }
}

/// A host that discards everything (for evaluating parameter literals).
final class ProbeHost: LanguageHost {
    func print(_ text: String) {}
    func progress(_ text: String) {}
    var isCancelled: Bool { false }
}

extension NotebookRunner.Report {
    /// What happened, for the front matter: ok; failed at cell N; errors allowed in cells N, M; and with --check,
    /// the cells whose expectations did not hold.
    var status: String {
        var parts: [String] = []
        if let failure {
            parts.append(allowErrors ? "errors allowed in cell\(errorCells.count == 1 ? "" : "s") " + errorCells.map(String.init).joined(separator: ", ")
                                     : "failed at cell \(failure.cell)")
        }
        if check, !mismatchCells.isEmpty {
            parts.append("expectation mismatch in cell\(mismatchCells.count == 1 ? "" : "s") " + mismatchCells.map(String.init).joined(separator: ", "))
        }
        return parts.isEmpty ? "ok" : parts.joined(separator: "; ")
    }

    /// Markdown with front matter; figures copied to a report-specific `NAME_files/` folder. Written atomically:
    /// the folder and the file are built under temporary names and renamed into place.
    func writeMarkdown(to output: String) throws {
        let base = (output as NSString).deletingPathExtension
        let filesName = (base as NSString).lastPathComponent + "_files"
        let filesDir = base + "_files"
        let tempDir = filesDir + ".tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: tempDir)
        try FileManager.default.createDirectory(atPath: tempDir, withIntermediateDirectories: true)
        var md = "---\nnotebook: \(path)\nstarted: \(ISO8601DateFormatter().string(from: started))\nseconds: \(String(format: "%.2f", seconds))\n"
        md += "parameters:\(parameters.isEmpty ? " {}" : "")\n" + parameters.map { "  \($0.0): \($0.1)\n" }.joined()
        md += provenance.map { "\($0.0):" + ($0.1.hasPrefix("\n") ? "" : " ") + "\($0.1)\n" }.joined()
        md += "status: \(status)\n---\n\n"
        var code = 0
        for r in results {
            switch r.cell.kind {
            case .markdown: md += r.cell.source + "\n\n"
            case .raw: md += "```\n\(r.cell.source)\n```\n\n"
            case .code:
                code += 1
                let tag = r.cell.tags.contains("injected-parameters") ? " (injected parameters)" : ""
                md += "```alvlm\n# cell \(code)\(tag)\n\(r.cell.source)\n```\n\n"
                if !r.executed { md += "*(not run)*\n\n"; continue }
                if !r.output.isEmpty { md += "```text\n\(r.output)```\n\n" }
                for (k, fig) in r.figures.enumerated() {
                    let name = "cell-\(code)-\(k + 1).png"
                    try FileManager.default.copyItem(atPath: fig, toPath: (tempDir as NSString).appendingPathComponent(name))
                    md += "![cell \(code) figure \(k + 1)](\(filesName)/\(name))\n\n"
                }
                if let e = r.error { md += "```text\n\(e)\n```\n\n" }
                md += String(format: "*cell %d: %.2f s*\n\n", code, r.seconds)
            }
        }
        try? FileManager.default.removeItem(atPath: filesDir)
        guard rename(tempDir, filesDir) == 0 else { throw EngineError(.io, "cannot write the report's figures", path: filesDir) }
        try writeAtomically(Data(md.utf8), to: output)
    }

    /// nbformat 4.5: every cell with an id, code cells with outputs (stream text, display_data PNG base64, error).
    func writeIpynb(to output: String) throws {
        var count = 0
        let cells: [[String: Any]] = results.map { r in
            var cell: [String: Any] = ["id": r.cell.id, "metadata": r.cell.tags.isEmpty ? [:] : ["tags": r.cell.tags], "source": r.cell.source]
            switch r.cell.kind {
            case .markdown: cell["cell_type"] = "markdown"
            case .raw: cell["cell_type"] = "raw"
            case .code:
                cell["cell_type"] = "code"
                var outputs: [[String: Any]] = []
                if r.executed {
                    count += 1
                    cell["execution_count"] = count
                    if !r.output.isEmpty { outputs.append(["output_type": "stream", "name": "stdout", "text": r.output]) }
                    for fig in r.figures {
                        if let data = FileManager.default.contents(atPath: fig) {
                            outputs.append(["output_type": "display_data", "data": ["image/png": data.base64EncodedString()], "metadata": [:]])
                        }
                    }
                    if let e = r.error {
                        outputs.append(["output_type": "error", "ename": "AlvlmError", "evalue": e.components(separatedBy: "\n").first ?? e,
                                        "traceback": e.components(separatedBy: "\n")])
                    }
                } else {
                    cell["execution_count"] = NSNull()
                }
                cell["outputs"] = outputs
            }
            return cell
        }
        let nb: [String: Any] = ["nbformat": 4, "nbformat_minor": 5, "cells": cells,
                                 "metadata": ["kernelspec": ["name": "alvlm", "display_name": "alvlm", "language": "alvlm"],
                                              "language_info": ["name": "alvlm"], "title": (path as NSString).lastPathComponent]]
        try writeAtomically(try JSONSerialization.data(withJSONObject: nb, options: [.prettyPrinted, .sortedKeys]), to: output)
    }
}
