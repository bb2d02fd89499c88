import AlvlmActive
import AlvlmBindings
import AlvlmEngine
import AlvlmLanguage
import AlvlmPlot
import AlvlmSettings
import Foundation

/// One interpreter state with its host: output, progress on stderr, cancellation, figures, labelling. The program
/// around it (the REPL, `alvlm run`, the Jupyter kernel, a test) passes in what it has: settings, an interrupt
/// flag, a person who labels, places to show figures and progress.
public final class Session: EngineHost {
    public let registry = Registry()
    public lazy var interpreter = Interpreter(registry: registry, host: self)
    public let settings: Settings
    /// Where figures go and which gnuplot draws them.
    public let plotter: Plotter
    /// Whether the user asked to stop (the executable's SIGINT flag), and how to lower the flag before a new input.
    public var interruptRequested: () -> Bool = { false }
    public var resetInterrupt: () -> Void = {}
    /// A person who labels training samples (`oracle: "human"`); nil where there is none.
    public var labeller: (([Int], Pool) throws -> [Int: Int])?
    /// The alvlm binary, for local sweep workers (set by the executable; nil in other hosts).
    public var executable: String?
    let progressIsInteractive = isatty(2) != 0
    var progressShown = false
    var lastProgressLine = Date.distantPast
    public var output: (String) -> Void = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }
    /// Inputs the REPL accepted (ran without error), for save_notebook.
    public var accepted: [String] = []

    /// Notebook runs: plots without `to:` become PNG files here (their paths collected in `figures`).
    public var figureDirectory: String?
    public var figures: [String] = []
    /// Hosts that show figures as they come (the Jupyter kernel): called with each figure file once written.
    public var onFigure: ((String) -> Void)?
    /// Hosts that show values apart from printed text (the Jupyter kernel's `Out[n]`); nil prints them.
    public var echo: ((Value) -> Void)?
    /// Hosts that show rendered values (tables) their own way (the Jupyter kernel's displays); nil prints them.
    public var displaySink: ((Value) -> Void)?
    /// Hosts that show progress their own way (the Jupyter kernel); nil draws it on stderr.
    public var progressSink: ((String) -> Void)?
    /// Hosts that show an image inline (a PNG) while labelling; nil uses the kitty protocol where the terminal has it.
    public var imageSink: ((Data) -> Void)?
    /// Hosts and tests that take figures themselves (returning what to show); nil: gnuplot draws them (`plotter`).
    public var drawFigure: ((Figure, _ output: String?) throws -> String)?
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
    public func provenance() -> [(String, String)] {
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
        return [("alvlm", alvlmVersion), ("gnuplot", plotter.gnuplotVersion ?? "not installed"),
                ("models", list(models)), ("seeds", list(seeds))]
    }

    public init(settings: Settings = .process) {
        self.settings = settings
        Engine.configure(cores: settings.cores)   // the first host to ask fixes it; later sessions share it
        plotter = Plotter(settings: settings)
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
        registerMap()
        registerExplainFigure()
    }

    public func print(_ text: String) { endProgress(); output(text) }

    public func display(_ value: Value) {
        if let displaySink { endProgress(); displaySink(value) } else { print(value.description) }
    }

    /// Draws a figure where the plot builtins send it (`output`: a file, or nil for the terminal).
    func draw(_ figure: Figure, output: String?) throws -> String {
        if let drawFigure { return try drawFigure(figure, output) }
        return try plotter.render(figure, output: output)
    }

    /// A figure file the session wrote for the host (not one the user named with `to:`).
    func figureWritten(_ path: String) {
        onFigure?(path)
    }

    public func progress(_ text: String) {
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
    public static func withBar(_ text: String) -> String {
        guard let slash = text.lastIndex(of: "/"), let space = text[..<slash].lastIndex(of: " "),
              let done = Double(text[text.index(after: space)..<slash]), let total = Double(text[text.index(after: slash)...]), total > 0 else { return text }
        let width = 24, filled = Int(Double(width) * min(1, done / total))
        return text + "  [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + String(format: "%3.0f%%", 100 * done / total)
    }

    public func endProgress() {
        if progressShown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)); progressShown = false }
    }

    public var isCancelled: Bool { interruptRequested() }

    /// Runs source; prints expression values; returns the error rendered against the source, if any.
    public func evaluate(_ source: String, name: String? = nil) -> LanguageError? {
        resetInterrupt()
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
            let data: Data
            do { data = try readInputFile(path, what: "notebook") } catch let e as EngineError { throw args.error("path", e.description) }
            let notebook: Notebook
            do { notebook = try Notebook.parse(data) } catch let e as Notebook.FormatError {
                let text = String(decoding: data, as: UTF8.self)
                var error = LanguageError(.runtime, e.message, at: e.location(in: text))
                error.origin = SourceText(name: args.string("path"), text: text)
                throw error
            }
            var number = 0
            for cell in notebook.cells where cell.kind == .code {
                number += 1
                do {
                    try interp.run(cell.source) { value in if !value.isNone { self.print(value.description) } }
                } catch var e as LanguageError where e.origin == nil && e.location != nil {
                    // The error points into the cell: it is shown against the cell, with the notebook's line numbers.
                    e.origin = SourceText(name: "\(args.string("path")), cell \(number)", text: cell.source, firstLine: cell.line)
                    throw e
                } catch var e as LanguageError where e.origin == nil {
                    e.message = "cell \(number) of \(args.string("path")): " + e.message
                    throw e
                }
            }
            return .null
        })
    }
}
