import AlvlmEngine
import AlvlmLanguage
import AlvlmSession
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
            var report = runner.run(allowErrors: allowErrors, in: Session.attached())
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
            let text = FileManager.default.contents(atPath: notebook).map { String(decoding: $0, as: UTF8.self) } ?? ""
            FileHandle.standardError.write(Data("alvlm: \(e.render(source: text, name: notebook))\n".utf8))
            throw ExitCode(1)
        } catch let e as EngineError {
            FileHandle.standardError.write(Data("alvlm: error: \(e)\n".utf8))
            throw ExitCode(1)
        }
    }
}
