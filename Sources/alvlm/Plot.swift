import AlvlmActive
import AlvlmBindings
import AlvlmLanguage
import Foundation

/// Plots through gnuplot: learning curves, histograms and bars, in the terminal (`dumb`) or to PNG/SVG.
/// Data goes inline as datablocks. Without gnuplot, a plain-text rendering stands in.
enum Plotter {
    struct Series { var title: String; var x: [Double]; var y: [Double]; var sd: [Double]? }

    enum Figure {
        case curves(title: String, xlabel: String, ylabel: String, series: [Series])
        case histogram(title: String, values: [Double], bins: Int, range: (Double, Double)?)
        case bars(title: String, labels: [String], values: [Double])
    }

    /// The gnuplot script for a figure, with the terminal chosen from the output path (nil: the terminal).
    /// Sixel graphics in the terminal: ALVLM_PLOT_TERMINAL=sixel, or a terminal known to speak it (TERM mlterm,
    /// foot, contour, yaft), on a terminal stdout. Otherwise plots use gnuplot's text terminal.
    static var terminalSupportsSixel: Bool {
        let env = ProcessInfo.processInfo.environment
        if let choice = env["ALVLM_PLOT_TERMINAL"] { return choice == "sixel" }
        let term = env["TERM"] ?? ""
        return isatty(1) != 0 && ["mlterm", "foot", "contour", "yaft"].contains { term.hasPrefix($0) }
    }

    static func script(_ figure: Figure, output: String?, columns: Int = 80, rows: Int = 24, sixel: Bool = false) throws -> String {
        var s = ""
        if let output {
            let ext = (output as NSString).pathExtension.lowercased()
            switch ext {
            case "png": s += "set terminal pngcairo size 900,560 enhanced font 'DejaVu Sans,10'\n"
            case "svg": s += "set terminal svg size 900,560 enhanced\n"
            default: throw LanguageError(.argument, "plots are written as .png or .svg, not .\(ext)")
            }
            s += "set output '\(output.replacingOccurrences(of: "'", with: "''"))'\n"
        } else if sixel {
            s += "set terminal sixelgd size 800,480 truecolor\n"
        } else {
            s += "set terminal dumb size \(columns),\(rows)\(isatty(1) != 0 ? " ansi" : " mono")\n"
        }
        s += "set key outside right top\nset grid\n"
        func number(_ v: Double) -> String { String(format: "%.17g", v) }
        switch figure {
        case let .curves(title, xlabel, ylabel, series):
            s += "set title \(quote(title))\nset xlabel \(quote(xlabel))\nset ylabel \(quote(ylabel))\n"
            if output != nil { s += "set style fill transparent solid 0.2 noborder\n" }
            var plots: [String] = []
            for (i, c) in series.enumerated() {
                s += "$S\(i) << EOD\n"
                for k in 0..<c.x.count { s += "\(number(c.x[k])) \(number(c.y[k])) \(number(c.sd?[k] ?? 0))\n" }
                s += "EOD\n"
                if c.sd != nil && output != nil {
                    plots.append("$S\(i) using 1:($2-$3):($2+$3) with filledcurves linecolor \(i + 1) notitle")
                }
                plots.append("$S\(i) using 1:2\(c.sd != nil && output == nil ? ":3 with yerrorlines" : " with linespoints") linecolor \(i + 1) title \(quote(c.title))")
            }
            s += "plot " + plots.joined(separator: ", \\\n     ") + "\n"
        case let .histogram(title, values, bins, range):
            let lo = range?.0 ?? (values.min() ?? 0), hi = range?.1 ?? max((values.max() ?? 1), lo + 1e-9)
            s += "set title \(quote(title))\nset style fill solid 0.6\nset ylabel 'count'\nunset key\n$H << EOD\n"
            for v in values { s += number(v) + "\n" }
            s += "EOD\n"
            s += "plot $H using 1 bins=\(bins) binrange [\(number(lo)):\(number(hi))] with boxes\n"
        case let .bars(title, labels, values):
            s += "set title \(quote(title))\nset style fill solid 0.6\nset boxwidth 0.8\nunset key\nset yrange [0:*]\n"
            s += "set xtics rotate by -45 font ',8'\n$B << EOD\n"
            for (l, v) in zip(labels, values) { s += "\(quote(l)) \(number(v))\n" }
            s += "EOD\nplot $B using 0:2:xtic(1) with boxes\n"
        }
        if output != nil { s += "unset output\n" }
        return s
    }

    /// Single-quoted: gnuplot expands backquotes (shell commands) inside double quotes, never inside single ones.
    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''").replacingOccurrences(of: "\n", with: " ") + "'" }

    /// `gnuplot --version` (e.g. "gnuplot 6.0 patchlevel 2"), or nil without gnuplot.
    static let gnuplotVersion: String? = {
        guard let path = gnuplotPath() else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--version"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    /// The gnuplot program: $GNUPLOT, else `gnuplot` on PATH.
    static func gnuplotPath() -> String? {
        if let env = ProcessInfo.processInfo.environment["GNUPLOT"], !env.isEmpty { return FileManager.default.isExecutableFile(atPath: env) ? env : nil }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/gnuplot"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// Renders a figure: the terminal text (dumb terminal or fallback), or a message naming the written file.
    static func render(_ figure: Figure, output: String?) throws -> String {
        let path = output.map { ($0 as NSString).expandingTildeInPath }
        // ALVLM_GNUPLOT_SCRIPT=FILE keeps a copy of every script sent to gnuplot (for tests and debugging).
        if let keep = ProcessInfo.processInfo.environment["ALVLM_GNUPLOT_SCRIPT"], !keep.isEmpty {
            let script = try self.script(figure, output: path)
            if let handle = FileHandle(forWritingAtPath: keep) ?? (FileManager.default.createFile(atPath: keep, contents: nil) ? FileHandle(forWritingAtPath: keep) : nil) {
                handle.seekToEndOfFile(); handle.write(Data(script.utf8)); try? handle.close()
            }
        }
        guard let gnuplot = gnuplotPath() else {
            let text = fallback(figure)
            if path != nil {
                throw LanguageError(.runtime, "gnuplot is not installed, so no file was written (apt-get install gnuplot-nox). The data:\n" + text)
            }
            return text + "\n(gnuplot is not installed: apt-get install gnuplot-nox for real plots)"
        }
        let columns = Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 80
        let script = try self.script(figure, output: path, columns: max(40, min(200, columns)), rows: 24, sixel: path == nil && terminalSupportsSixel)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: gnuplot)
        let input = Pipe(), out = Pipe(), err = Pipe()
        process.standardInput = input; process.standardOutput = out; process.standardError = err
        try process.run()
        input.fileHandleForWriting.write(Data(script.utf8))
        try? input.fileHandleForWriting.close()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // gnuplot exits non-zero on errors in a piped script; what it prints otherwise are warnings (such as an
        // empty y range it widened itself), not failures.
        if process.terminationStatus != 0 {
            throw LanguageError(.runtime, "gnuplot failed: " + errors.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        if let path {
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
            guard size > 0 else { throw LanguageError(.runtime, "gnuplot wrote nothing to \(path)") }
            return "wrote \(path) (\(size) bytes)"
        }
        return text
    }

    /// A plain-text stand-in: a table for curves, a bar per bin for histograms.
    static func fallback(_ figure: Figure) -> String {
        switch figure {
        case let .curves(title, xlabel, ylabel, series):
            var lines = ["\(title)  (\(ylabel) by \(xlabel))"]
            for c in series {
                lines.append("  \(c.title): " + zip(c.x, c.y).enumerated().map { i, p in
                    String(format: "%g: %.2f", p.0, p.1) + (c.sd.map { String(format: " ± %.2f", $0[i]) } ?? "")
                }.joined(separator: ", "))
            }
            return lines.joined(separator: "\n")
        case let .histogram(title, values, bins, range):
            let lo = range?.0 ?? (values.min() ?? 0), hi = range?.1 ?? (values.max() ?? 1)
            let width = max((hi - lo) / Double(bins), 1e-12)
            var counts = [Int](repeating: 0, count: bins)
            for v in values where v.isFinite {
                let slot = max(0, min(Double(bins - 1), ((v - lo) / width).rounded(.down)))
                counts[Int(slot)] += 1
            }
            let top = max(1, counts.max()!)
            return ([title] + counts.enumerated().map { i, c in
                String(format: "%8.3f | ", lo + Double(i) * width) + String(repeating: "#", count: c * 50 / top) + " \(c)"
            }).joined(separator: "\n")
        case let .bars(title, labels, values):
            let top = max(1e-12, values.max() ?? 1)
            return ([title] + zip(labels, values).map { l, v in
                String(l.prefix(20)).padding(toLength: 20, withPad: " ", startingAt: 0) + " | " + String(repeating: "#", count: Int(v / top * 40)) + String(format: " %.3g", v)
            }).joined(separator: "\n")
        }
    }
}
