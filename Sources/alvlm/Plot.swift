import AlvlmLanguage
import AlvlmPlot
import Foundation

/// The host's side of plotting: where a figure goes (the terminal's size and kind, or a file), which gnuplot, and
/// the text stand-in when there is none. The figures themselves and the data path are `AlvlmPlot`'s.
enum Plotter {
    static let environment = ProcessInfo.processInfo.environment

    /// The gnuplot program: $GNUPLOT, else `gnuplot` on PATH.
    static var gnuplot: Gnuplot? { Gnuplot.locate(gnuplotPath: environment["GNUPLOT"], searchPath: environment["PATH"]) }

    /// `gnuplot --version` (e.g. "gnuplot 5.4 patchlevel 4"), or nil without gnuplot.
    static let gnuplotVersion: String? = gnuplot?.version()

    /// Sixel graphics in the terminal: ALVLM_PLOT_TERMINAL=sixel, or a terminal that shows sixel images (as
    /// `TerminalImage.detect` finds it). Otherwise plots use gnuplot's text terminal.
    static var terminalSupportsSixel: Bool {
        if let choice = environment["ALVLM_PLOT_TERMINAL"] { return choice == "sixel" }
        return TerminalImage.detect(environment: environment) == .sixel
    }

    /// Renders a figure: the terminal text (gnuplot's text terminal, or the stand-in with a one-line notice
    /// when gnuplot is missing), or a message naming the written file.
    static func render(_ figure: Figure, output: String?) throws -> String {
        let path = output.map { ($0 as NSString).expandingTildeInPath }
        let target: PlotOutput
        if let path {
            target = .file(path)
        } else if terminalSupportsSixel {
            target = .sixel
        } else {
            // As wide as the window (COLUMNS when it is not a terminal), as tall as the figure needs.
            target = .text(columns: max(40, min(250, TerminalImage.columns - 1)), rows: figure.textRows, ansi: isatty(1) != 0)   // gnuplot writes one column more
        }
        do {
            let program = try PlotProgram(figure, output: target)
            guard let gnuplot else {
                let text = TextPlot.render(figure)
                if path != nil {
                    throw LanguageError(.runtime, "gnuplot is not installed, so no file was written (apt-get install gnuplot-nox). The data:\n" + text)
                }
                return text + "\n(gnuplot is not installed: apt-get install gnuplot-nox for real plots)"
            }
            // ALVLM_GNUPLOT_SCRIPT=FILE keeps a copy of every stream sent to gnuplot (script and binary data).
            let copy = environment["ALVLM_GNUPLOT_SCRIPT"].flatMap { $0.isEmpty ? nil : $0 }
            let text = try gnuplot.draw(program, copy: copy)
            guard let path else { return text }
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
            guard size > 0 else { throw LanguageError(.runtime, "gnuplot wrote nothing to \(path)") }
            return "wrote \(path) (\(size) bytes)"
        } catch let error as PlotError {
            throw LanguageError(.runtime, error.description)
        }
    }
}
