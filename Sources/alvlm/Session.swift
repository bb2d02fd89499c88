import AlvlmActive
import AlvlmBindings
import AlvlmEngine
import AlvlmLanguage
import Foundation

/// The interrupt flag the SIGINT handler sets (an atomic-enough Int32 read by polling loops).
nonisolated(unsafe) var interruptRequested: Int32 = 0

/// One interpreter state with its host: output, progress on stderr, Ctrl-C cancellation.
final class Session: LanguageHost {
    let registry = Registry()
    lazy var interpreter = Interpreter(registry: registry, host: self)
    let progressIsInteractive = isatty(2) != 0
    var progressShown = false
    var lastProgressLine = Date.distantPast
    var output: (String) -> Void = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }
    /// Inputs the REPL accepted (ran without error), for save_notebook.
    var accepted: [String] = []

    /// Notebook runs: plots without `to:` become PNG files here (their paths collected in `figures`).
    var figureDirectory: String?
    var figures: [String] = []
    /// Hosts that show figures as they come (the Jupyter kernel): called with each figure file once written.
    var onFigure: ((String) -> Void)?
    /// Hosts that show values apart from printed text (the Jupyter kernel's `Out[n]`); nil prints them.
    var echo: ((Value) -> Void)?
    /// Hosts that show rendered values (tables) their own way (the Jupyter kernel's displays); nil prints them.
    var displaySink: ((Value) -> Void)?
    /// Hosts that show progress their own way (the Jupyter kernel); nil draws it on stderr.
    var progressSink: ((String) -> Void)?
    /// Hosts that show an image inline (a PNG) while labelling; nil uses the kitty protocol where the terminal has it.
    var imageSink: ((Data) -> Void)?
    /// Figures written so far in this session: file names never repeat, although `figures` is reset per cell.
    private var figureCount = 0

    /// Where a plot goes: the path given, a new figure file in notebook runs, or the terminal (nil).
    func plotTarget(_ args: Arguments) -> String? {
        if args.has("to") { return args.string("to") }
        guard let dir = figureDirectory else { return nil }
        figureCount += 1
        let path = (dir as NSString).appendingPathComponent("figure-\(figureCount).png")
        figures.append(path)
        return path
    }

    /// What a notebook report records about the run, from the variables it ended with: the alvlm and gnuplot
    /// versions, each model (source and image-tower hash) and the seeds of experiments and comparisons.
    func provenance() -> [(String, String)] {
        var models: [String] = [], seeds: [String] = []
        for (name, value) in interpreter.variables {
            guard case .object(let o) = value else { continue }
            if let m = o as? ModelObject { models.append("\(name) = \(m.model.source) (image tower \(String(m.model.imageTowerHash, radix: 16)))") }
            if let e = o as? ExperimentObject { seeds.append("\(name): experiment seed \(Int64(bitPattern: e.experiment.state.config.seed))") }
            if let c = o as? ComparisonObject {
                seeds.append("\(name): master seed \(Int64(bitPattern: c.comparison.masterSeed)), run seeds \(c.comparison.seeds.map(String.init).joined(separator: " "))")
            }
        }
        func list(_ items: [String]) -> String { items.isEmpty ? "[]" : "\n" + items.map { "  - \"\($0)\"" }.joined(separator: "\n") }
        return [("alvlm", alvlmVersion), ("gnuplot", Plotter.gnuplotVersion ?? "not installed"),
                ("models", list(models)), ("seeds", list(seeds))]
    }

    init() {
        StandardLibrary.register(into: registry)
        Help.register(into: registry)
        Bindings.register(into: registry)
        registerSessionBuiltins()
        registerPlots()
        registry.group = .labelling
        // Hosts with a person at a terminal (the REPL, the Jupyter kernel) replace this with the real labeller.
        registry.register(Builtin("label", Self.labelParameters, summary: Self.labelSummary) { _, _ in
            throw LanguageError(.runtime, Self.needsAPerson("label()"))
        })
        registry.group = .plots
        registerShow()
    }

    func print(_ text: String) { endProgress(); output(text) }

    func display(_ value: Value) {
        if let displaySink { endProgress(); displaySink(value) } else { print(value.description) }
    }

    /// A figure file the session wrote for the host (not one the user named with `to:`).
    func figureWritten(_ path: String) {
        onFigure?(path)
    }

    func progress(_ text: String) {
        if let progressSink { progressSink(text); return }
        if progressIsInteractive {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(Self.withBar(text))".utf8))
            progressShown = true
        } else if Date().timeIntervalSince(lastProgressLine) >= 2 || text.contains("accuracy") {
            lastProgressLine = Date()
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    /// "encoding train images 30/120" gets a bar: "[#####...............]  25%".
    static func withBar(_ text: String) -> String {
        guard let slash = text.lastIndex(of: "/"), let space = text[..<slash].lastIndex(of: " "),
              let done = Double(text[text.index(after: space)..<slash]), let total = Double(text[text.index(after: slash)...]), total > 0 else { return text }
        let width = 24, filled = Int(Double(width) * min(1, done / total))
        return text + "  [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + String(format: "%3.0f%%", 100 * done / total)
    }

    func endProgress() {
        if progressShown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)); progressShown = false }
    }

    var isCancelled: Bool { interruptRequested != 0 }

    /// Runs source; prints expression values; returns the error rendered against the source, if any.
    func evaluate(_ source: String, name: String? = nil) -> LanguageError? {
        interruptRequested = 0
        defer { endProgress() }
        do {
            try interpreter.run(source) { value in
                guard !value.isNone else { return }
                if let echo = self.echo { self.endProgress(); echo(value) } else { self.print(value.description) }
            }
            return nil
        } catch let e as LanguageError {
            return e
        } catch {
            return LanguageError(.runtime, "\(error)")
        }
    }

    /// Asks for labels in the terminal: the image path, the class list; a class name, number or unique prefix;
    /// `s` skips, `u` undoes the previous answer. Every answer is journaled before it is used.
    func labelInTerminal(_ ids: [Int], _ pool: Pool, journal: LabelJournal?, guesses: [[(label: Int, probability: Double)]] = [],
                         read: (String) -> String?) throws -> [Int: Int] {
        print("classes: " + pool.classNames.enumerated().map { "\($0.offset) \($0.element)" }.joined(separator: ", "))
        var answers: [Int: Int] = [:], order: [Int] = []
        var i = 0, shown = -1
        while i < ids.count {
            if isCancelled { throw LanguageError(.interrupted, "interrupted") }
            let id = ids[i]
            // Ids, the image and the model's guesses, once per image; never the file's path, which often names the class.
            if shown != i {
                shown = i
                print("[\(i + 1)/\(ids.count)] id \(id)")
                if let path = pool.sample(id)?.path { showWhileLabelling(path) }
                if i < guesses.count {
                    print("  model guesses: " + guesses[i].map { "\($0.label) \(pool.classNames[$0.label]) \(String(format: "%.0f%%", 100 * $0.probability))" }.joined(separator: ", "))
                }
            }
            guard let line = read("label (name, number, s skip, u undo)> ")?.trimmingCharacters(in: .whitespaces) else { break }
            if line.isEmpty { continue }   // asked again
            if line == "s" { print("  skipped id \(id)"); i += 1; continue }
            if line == "u" {
                if let last = order.popLast() {
                    try journal?.append([(last, -1)], pool: LabelJournal.key(pool), source: "label() undo")
                    answers[last] = nil; i = ids.firstIndex(of: last) ?? i; shown = -1; print("undone: id \(last)")
                }
                continue
            }
            let lower = line.lowercased()
            let matches = pool.classNames.indices.filter { pool.classNames[$0].lowercased().hasPrefix(lower) }
            let label: Int?
            if let n = Int(line), n >= 0, n < pool.classes { label = n }
            else if let exact = pool.classNames.firstIndex(where: { $0.lowercased() == lower }) { label = exact }
            else if matches.count == 1 { label = matches[0] }
            else { label = nil }
            guard let label else {
                print(matches.count > 1 ? "ambiguous: " + matches.map { pool.classNames[$0] }.joined(separator: ", ") : "not a class: \(line)")
                continue
            }
            try journal?.append([(id, label)], pool: LabelJournal.key(pool), source: "label()")
            answers[id] = label; order.append(id)
            print("  id \(id): \(pool.classNames[label])")   // what a number or a prefix resolved to
            i += 1
        }
        return answers
    }

    func registerSessionBuiltins() {
        registry.group = .files
        registry.register(Builtin("save_notebook", [Parameter("path", .string, "an .alnb file")],
                                  summary: "write the inputs accepted so far in this REPL as notebook cells") { [unowned self] args, _ in
            // Inputs that need a person at the terminal would stop a headless run: kept as comments, with why.
            let text = self.accepted.map { input -> String in
                guard input.contains("label(") || input.contains("oracle: \"human\"") else { return "# %%\n\(input)\n" }
                return "# %%\n# " + Self.needsAPerson("this cell") + "\n" + input.split(separator: "\n", omittingEmptySubsequences: false).map { "# " + $0 }.joined(separator: "\n") + "\n"
            }.joined(separator: "\n")
            try Bindings.engineCall { try writeAtomically(Data(text.utf8), to: (args.string("path") as NSString).expandingTildeInPath) }
            self.print("wrote \(self.accepted.count) cells to \(args.string("path"))")
            return .null
        })
        registry.register(Builtin("run_notebook", [Parameter("path", .string, "an .alnb notebook")],
                                  summary: "run a notebook's code cells in this session (alvlm run NOTEBOOK writes reports)") { [unowned self] args, interp in
            let path = (args.string("path") as NSString).expandingTildeInPath
            guard let data = FileManager.default.contents(atPath: path) else { throw args.error("path", "cannot read \(args.string("path"))") }
            let notebook: Notebook
            do { notebook = try Notebook.parse(data) } catch let e as Notebook.FormatError {
                throw args.error("path", "\(args.string("path")): \(e)")
            }
            var number = 0
            for cell in notebook.cells where cell.kind == .code {
                number += 1
                do {
                    try interp.run(cell.source) { value in if !value.isNone { self.print(value.description) } }
                } catch var e as LanguageError {
                    e.message = "cell \(number) of \(args.string("path"))" + (e.location.map { ", line \(cell.line + $0.line - 1)" } ?? "") + ": " + e.message
                    e.location = nil
                    throw e
                }
            }
            return .null
        })
        registry.group = .basics
        registry.register(Builtin("print", [Parameter("value", .any)], summary: "print a value") { [unowned self] args, _ in
            self.print(args["value"].description)
            return .null
        })
        registry.register(Builtin("len", [Parameter("value", .any, "a list, range, string or record")], summary: "number of items (characters of a string, fields of a record)") { args, _ in
            switch args["value"] {
            case .string(let s): return .number(Double(s.count))
            case .record(let fields): return .number(Double(fields.count))
            case let v:
                guard let items = v.elements else { throw args.error("value", "len needs a list, range, string or record, not \(v.typeName == "nil" ? "nil" : "a " + v.typeName)") }
                return .number(Double(items.count))
            }
        })
        registry.register(Builtin("round", [Parameter("value", .number), Parameter("digits", .integer, default: .number(0), "decimal places")],
                                  summary: "a number rounded to some decimal places (half away from zero)") { args, _ in
            let digits = args.int("digits")
            guard (0...12).contains(digits) else { throw args.error("digits", "digits must be between 0 and 12") }
            let scale = pow(10.0, Double(digits))
            return .number((args.number("value") * scale).rounded() / scale)
        })
        registry.register(Builtin("percent", [Parameter("value", .number, "a fraction, e.g. an accuracy"), Parameter("digits", .integer, default: .number(1))],
                                  summary: "a fraction as a percentage string, e.g. percent(0.4567) is \"45.7%\"") { args, _ in
            let digits = args.int("digits")
            guard (0...12).contains(digits) else { throw args.error("digits", "digits must be between 0 and 12") }
            return .string(String(format: "%.\(digits)f%%", 100 * args.number("value")))
        })
    }

    /// `label(q)`: label a query batch in the terminal (interactive REPL only).
    static let labelParameters = [Parameter("query", .object("query")),
                                  Parameter("journal", .oneOf([.string, .nilValue]), default: .null, "append-only record of every answer (default ~/.cache/alvlm/labels.journal)")]
    static let labelSummary = "label a query batch in the terminal (class name, number or prefix; s skips, u undoes)"

    /// What a run without a person at a terminal says of the builtins that need one.
    static func needsAPerson(_ what: String) -> String {
        "\(what) needs a person at an interactive terminal (the REPL or a Jupyter notebook); use export/import for files (export(q, \"batch.csv\"), then import(\"answers.csv\", pool))"
    }

    func registerLabel(read: @escaping (String) -> String?) {
        registry.register(Builtin("label", Self.labelParameters, summary: Self.labelSummary) { [unowned self] args, _ in
            let q = args.object("query", as: QueryObject.self)!
            let path = args.has("journal") ? (args.string("journal") as NSString).expandingTildeInPath : Bindings.defaultJournal
            let journal = try Bindings.engineCall {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                return try LabelJournal(path: path)
            }
            let answers = try self.labelInTerminal(q.ids, q.pool.pool, journal: journal, guesses: q.guesses, read: read)
            return .list(q.ids.compactMap { id in answers[id].map { .record([("id", .number(Double(id))), ("label", .string(q.pool.pool.classNames[$0]))]) } })
        })
    }
}
