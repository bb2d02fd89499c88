import AlvlmEngine
import AlvlmLanguage
import Foundation

/// Runs a parsed notebook in one session, collecting each cell's text, figures, errors and time.
public struct NotebookRunner {
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

    public struct Report {
        var path: String
        var parameters: [(String, String)]
        var results: [CellResult]
        public var failure: (cell: Int, message: String)?
        public var mismatches: [String]
        /// Cells that failed without expecting to, and cells whose `# expect` did not hold.
        public var errorCells: [Int] = []
        var mismatchCells: [Int] = []
        var allowErrors = false
        public var check = false
        var started: Date
        var seconds: Double
        public var figureDirectory: String?
        /// Front-matter lines about the run: versions, the models used, the seeds of experiments and comparisons.
        var provenance: [(String, String)] = []
    }

    public init(path: String, overrides: [String]) throws {
        self.path = path
        let data = try readInputFile(path, what: "notebook")
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

    /// Runs every cell in `session` (the command line passes one that Ctrl-C cancels).
    public func run(allowErrors: Bool, in session: Session = Session()) -> Report {
        let started = Date()
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
/// The parameters cell's host: no output, and a budget of statements (the cell is a few assignments; a loop that
/// never ends is stopped as if interrupted instead of hanging the run).
final class ProbeHost: LanguageHost {
    private var remaining = 100_000
    func print(_ text: String) {}
    func progress(_ text: String) {}
    var isCancelled: Bool { remaining -= 1; return remaining < 0 }
}
