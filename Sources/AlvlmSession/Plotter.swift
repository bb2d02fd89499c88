import AlvlmLanguage
import AlvlmPlot
import AlvlmSettings
import Foundation

/// The host's side of plotting: where a figure goes (the terminal's size and kind, or a file), which gnuplot, and
/// the text stand-in when there is none. The figures, their gnuplot programs (`PlotProgram`, pure: tests read them
/// directly) and the data path are `AlvlmPlot`'s.
public struct Plotter: Sendable {
    public let settings: Settings
    /// The gnuplot program: $GNUPLOT, else `gnuplot` on PATH; nil without one.
    public let gnuplot: Gnuplot?
    /// `gnuplot --version` (e.g. "gnuplot 5.4 patchlevel 4"), or nil without gnuplot (asked each time: it runs gnuplot).
    public var gnuplotVersion: String? { gnuplot?.version() }

    public init(settings: Settings) {
        self.settings = settings
        gnuplot = Gnuplot.locate(gnuplotPath: settings.gnuplot, searchPath: settings.searchPath)
    }

    /// Sixel graphics in the terminal: ALVLM_PLOT_TERMINAL=sixel, or a terminal that shows sixel images (as
    /// `TerminalImage.detect` finds it). Otherwise plots use gnuplot's text terminal.
    var terminalSupportsSixel: Bool {
        if let choice = settings.plotTerminal { return choice == "sixel" }
        return TerminalImage.detect(environment: settings.terminal) == .sixel
    }

    /// The gnuplot program for a figure going to `output` (a file; nil: the terminal as sixel, or text as wide as
    /// the window, COLUMNS when it is not a terminal). Pure but for asking the terminal its size.
    public func program(_ figure: Figure, output path: String?) throws -> PlotProgram {
        let target: PlotOutput
        if let path { target = .file(path) }
        else if terminalSupportsSixel { target = .sixel }
        // gnuplot writes one column more than it is given.
        else { target = .text(columns: max(40, min(250, TerminalImage.columns(fallback: settings.columns) - 1)), rows: figure.textRows, ansi: isatty(1) != 0) }
        return try PlotProgram(figure, output: target)
    }

    /// Renders a figure: the terminal text (gnuplot's text terminal, or the stand-in with a one-line notice
    /// when gnuplot is missing), or a message naming the written file.
    public func render(_ figure: Figure, output: String?) throws -> String {
        let path = output.map { ($0 as NSString).expandingTildeInPath }
        do {
            let program = try self.program(figure, output: path)
            guard let gnuplot else {
                let text = TextPlot.render(figure)
                if path != nil {
                    throw LanguageError(.runtime, "gnuplot is not installed, so no file was written (apt-get install gnuplot-nox). The data:\n" + text)
                }
                return text + "\n(gnuplot is not installed: apt-get install gnuplot-nox for real plots)"
            }
            let text = try gnuplot.draw(program)
            guard let path else { return text }
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
            guard size > 0 else { throw LanguageError(.runtime, "gnuplot wrote nothing to \(path)") }
            return "wrote \(path) (\(size) bytes)"
        } catch let error as PlotError {
            throw LanguageError(.runtime, error.description)
        }
    }
}
