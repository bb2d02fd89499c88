import AlvlmActive
import AlvlmBindings
import AlvlmJupyter
import AlvlmLanguage
import AlvlmSession
import Foundation

/// The alvlm session behind the Jupyter kernel: the same interpreter, builtins and plots as the REPL and
/// `alvlm run`, with its outputs routed to the notebook (text as streams, values as `Out[n]`, figures and
/// labelling images as PNG displays, progress as one updating line, labels asked through `input_request`).
final class JupyterSession: KernelBackend {
    let session = Session.attached()
    let figures: String
    private var cell: CellContext?
    private var lastProgress = Date.distantPast
    private var progressShown = false

    init() throws {
        figures = NSTemporaryDirectory() + "/alvlm-kernel-figures-\(getpid())"
        try FileManager.default.createDirectory(atPath: figures, withIntermediateDirectories: true)
        session.figureDirectory = figures
        session.output = { [unowned self] text in self.cell?.stream("stdout", text + "\n") }
        session.echo = { [unowned self] value in
            var data: [String: Any] = ["text/plain": value.description]
            if case .object(let o) = value, let rich = o as? MarkdownRepresentable { data["text/markdown"] = rich.markdown }
            self.cell?.result(data)
        }
        session.displaySink = { [unowned self] value in
            var data: [String: Any] = ["text/plain": value.description]
            if case .object(let o) = value, let rich = o as? MarkdownRepresentable { data["text/markdown"] = rich.markdown }
            self.cell?.display(data)
        }
        session.onFigure = { [unowned self] path in
            if let data = FileManager.default.contents(atPath: path) { self.cell?.display(Self.png(data)) }
            try? FileManager.default.removeItem(atPath: path)
        }
        session.imageSink = { [unowned self] data in self.cell?.display(Self.png(data)) }
        // Progress as one line rewritten in place (a carriage return), a few times a second at most.
        session.progressSink = { [unowned self] text in
            guard Date().timeIntervalSince(self.lastProgress) >= 0.5 || text.contains("accuracy") else { return }
            self.lastProgress = Date()
            self.progressShown = true
            self.cell?.stream("stderr", "\r" + Session.withBar(text))
        }
        let read: (String) -> String? = { [unowned self] prompt in self.cell?.input(prompt) }
        session.labelWith(read: read)
        // Labelling needs a person who can answer: say so when the client cannot (nbclient, papermill).
        if let label = session.registry.builtins["label"] {
            session.registry.register(Builtin(label.name, label.parameters, summary: label.summary, details: label.details) { [unowned self] args, interp in
                guard self.cell?.allowStdin ?? false else {
                    throw LanguageError(.runtime, "label() needs a person at the notebook, and this client does not accept input; use export/import for files (export(q, \"batch.csv\"), then import(\"answers.csv\", pool))")
                }
                return try label.run(args, interp)
            })
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: figures) }

    static func png(_ data: Data) -> [String: Any] {
        ["image/png": data.base64EncodedString(), "text/plain": "<figure, \(data.count) bytes of PNG>"]
    }

    var info: KernelInfo {
        KernelInfo(implementation: "alvlm", version: alvlmVersion, language: "alvlm", fileExtension: ".al", mimetype: "text/x-alvlm",
                   banner: "alvlm \(alvlmVersion): active learning for vision-language models. help for help.")
    }

    func execute(_ code: String, in cell: CellContext) -> ExecuteOutcome {
        self.cell = cell
        progressShown = false
        defer { self.cell = nil }
        let source = code
        session.figures = []
        let error = session.evaluate(source, name: "cell")
        if progressShown { cell.stream("stderr", "\n") }   // the progress line ends; what follows starts anew
        if let e = error {
            let name = e.kind == .interrupted ? "KeyboardInterrupt" : "AlvlmError"
            return .error(name: name, value: e.message, traceback: e.render(source: source).components(separatedBy: "\n"))
        }
        return .ok
    }

    func complete(_ code: String, cursor: Int) -> (matches: [String], start: Int, end: Int) {
        let scalars = Array(code.unicodeScalars)
        let end = min(max(0, cursor), scalars.count)
        let before = String(String.UnicodeScalarView(scalars[..<end]))
        // Inside a string: the whole path typed so far is replaced.
        if before.filter({ $0 == "\"" }).count % 2 == 1 {
            let typed = String(before.split(separator: "\"", omittingEmptySubsequences: false).last ?? "")
            return (Completion.paths(typed), end - typed.unicodeScalars.count, end)
        }
        var start = end
        while start > 0, Self.isNameScalar(scalars[start - 1]) { start -= 1 }
        let prefix = String(String.UnicodeScalarView(scalars[start..<end]))
        let head = String(String.UnicodeScalarView(scalars[..<start]))
        return (Completion.candidates(before: head, prefix: prefix, session: session), start, end)
    }

    static func isNameScalar(_ s: Unicode.Scalar) -> Bool { s == "_" || s.properties.isAlphabetic || s.properties.numericType != nil }

    func inspect(_ code: String, cursor: Int) -> String? {
        let scalars = Array(code.unicodeScalars)
        var start = min(max(0, cursor), scalars.count), end = start
        while start > 0, Self.isNameScalar(scalars[start - 1]) || scalars[start - 1] == "." { start -= 1 }
        while end < scalars.count, Self.isNameScalar(scalars[end]) { end += 1 }
        let name = String(String.UnicodeScalarView(scalars[start..<end])).trimmingCharacters(in: CharacterSet(charactersIn: "."))
        guard !name.isEmpty else { return nil }
        if let text = session.registry.help(name) { return text }
        // A variable holding an object: its type's help; obj.member: the member's help.
        let parts = name.split(separator: ".").map(String.init)
        if let value = session.interpreter.variable(parts[0]), case .object(let o) = value {
            return session.registry.help(([o.typeName] + parts.dropFirst()).joined(separator: ".")) ?? session.registry.help(o.typeName)
        }
        return nil
    }

    func isComplete(_ code: String) -> CompletenessStatus {
        do {
            _ = try Parser.parse(Help.rewrite(code))
            return .complete
        } catch let e as LanguageError {
            return e.incomplete ? .incomplete : .invalid
        } catch {
            return .unknown
        }
    }

    func interrupt() { sigintFlag = 1 }
}
