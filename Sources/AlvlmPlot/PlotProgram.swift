import Foundation

/// Where a figure is drawn: gnuplot's text terminal, sixel graphics, or a PNG/SVG file (by its extension).
public enum PlotOutput: Equatable {
    case text(columns: Int, rows: Int, ansi: Bool)
    case sixel
    case file(String)
}

/// Numeric columns of equal length, sent to gnuplot in its binary record format.
public struct DataTable: Equatable {
    /// Column-major: column `c` is `values[c * rows ..< (c + 1) * rows]`.
    public let values: [Double]
    public let rows: Int
    public var columnCount: Int { rows == 0 ? 0 : values.count / rows }

    public init(columns: [[Double]]) {
        precondition(!columns.isEmpty && columns.allSatisfy { $0.count == columns[0].count }, "columns of one table have one length")
        rows = columns[0].count
        values = Array(columns.joined())
    }

    public func column(_ c: Int) -> [Double] { Array(values[c * rows ..< (c + 1) * rows]) }
}

/// A figure as gnuplot will get it: the script text before the plot command, one plot clause per layer (each
/// naming the table it draws and how), and the tables. A table drawn by one layer goes inline after the plot
/// command (`'-' binary`); a table drawn by several (a band and its line) goes once to a binary file.
public struct PlotProgram {
    public struct Layer: Equatable {
        public var table: Int
        /// Everything after the data reference: `using 1:2 with linespoints title 'cec'`.
        public var clause: String
    }

    public var setup: String
    public var layers: [Layer]
    public var tables: [DataTable]
    public var finish: String

    /// How many layers draw each table.
    public var uses: [Int] { layers.reduce(into: [Int](repeating: 0, count: tables.count)) { $0[$1.table] += 1 } }

    public init(_ figure: Figure, output: PlotOutput) throws {
        var s = ""
        switch output {
        case .file(let path):
            switch (path as NSString).pathExtension.lowercased() {
            // noenhanced: names such as least_confidence or Apply_Eye_Makeup are shown as written, not as subscripts.
            case "png": s += "set terminal pngcairo size 900,560 noenhanced font 'DejaVu Sans,10'\n"
            case "svg": s += "set terminal svg size 900,560 noenhanced\n"
            case let ext: throw PlotError.invalid("plots are written as .png or .svg, not .\(ext)")
            }
            s += "set output \(Self.quote(path))\n"
        case .sixel:
            s += "set terminal sixelgd size 800,480 truecolor\n"
        case let .text(columns, rows, ansi):
            s += "set terminal dumb size \(columns),\(rows)\(ansi ? " ansi" : " mono")\n"
        }
        s += "set key outside right top\nset grid\n"
        var layers: [Layer] = [], tables: [DataTable] = []
        func add(_ columns: [[Double]], _ clauses: [String]) {
            guard let first = columns.first, !first.isEmpty else { return }
            tables.append(DataTable(columns: columns))
            for c in clauses { layers.append(Layer(table: tables.count - 1, clause: c)) }
        }
        let toFile: Bool = { if case .file = output { return true } else { return false } }()
        let isText: Bool = { if case .text = output { return true } else { return false } }()
        switch figure {
        case let .curves(title, xlabel, ylabel, series, reference, axis):
            // In a text terminal a y label is written across the tick labels: it goes into the title there.
            let shownTitle = isText && !ylabel.isEmpty ? (title.isEmpty ? ylabel : "\(title) [y: \(ylabel)]") : title
            s += "set title \(Self.quote(shownTitle))\nset xlabel \(Self.quote(xlabel))\n"
            if !isText { s += "set ylabel \(Self.quote(ylabel))\n" }
            if toFile { s += "set style fill transparent solid 0.2 noborder\n" }
            if let axis {
                let lows = series.flatMap { c in c.y.indices.map { c.y[$0] - (c.sd?[$0] ?? 0) } } + (reference.map { [$0.value] } ?? [])
                let highs = series.flatMap { c in c.y.indices.map { c.y[$0] + (c.sd?[$0] ?? 0) } } + (reference.map { [$0.value] } ?? [])
                if let lo = lows.filter(\.isFinite).min(), let hi = highs.filter(\.isFinite).max() {
                    let (a, b) = axis.range(lo: lo, hi: hi)
                    s += "set yrange [\(Self.number(a)):\(Self.number(b))]\n"
                }
            }
            for (i, c) in series.enumerated() {
                let colour = "linecolor \(i + 1)"
                if let sd = c.sd {
                    add([c.x, c.y, sd], toFile
                        ? ["using 1:($2-$3):($2+$3) with filledcurves \(colour) notitle",
                           "using 1:2 with linespoints \(colour) title \(Self.quote(c.title))"]
                        : ["using 1:2:3 with yerrorlines \(colour) title \(Self.quote(c.title))"])
                } else {
                    add([c.x, c.y], ["using 1:2 with linespoints \(colour) title \(Self.quote(c.title))"])
                }
            }
            let xs = series.flatMap(\.x).filter(\.isFinite)
            if let reference, let lo = xs.min(), let hi = xs.max() {
                add([[lo, hi], [reference.value, reference.value]], ["using 1:2 with lines dashtype 2 linecolor rgb 'gray40' title \(Self.quote(reference.title))"])
            }
        case let .histogram(title, histograms):
            guard let first = histograms.first?.histogram else { throw PlotError.invalid("nothing to plot") }
            guard histograms.allSatisfy({ $0.histogram.lo == first.lo && $0.histogram.hi == first.hi && $0.histogram.counts.count == first.counts.count }) else {
                throw PlotError.invalid("overlaid histograms need the same bins")
            }
            let overlay = histograms.count > 1
            s += "set title \(Self.quote(title))\nset style fill \(overlay ? "transparent solid 0.35" : "solid 0.6")\n"
            s += isText ? "set title \(Self.quote(title + " [y: count]"))\n" : "set ylabel 'count'\n"
            if !overlay { s += "unset key\n" }
            s += "set xrange [\(Self.number(first.lo)):\(Self.number(first.hi))]\nset yrange [0:*]\n"
            for (i, layer) in histograms.enumerated() {
                let h = layer.histogram, bins = h.counts.indices
                let how = overlay && isText ? "with histeps" : "with boxes"
                add([bins.map { (h.edge($0) + h.edge($0 + 1)) / 2 }, h.counts.map(Double.init), bins.map { h.edge($0 + 1) - h.edge($0) }],
                    [overlay ? "using 1:2\(isText ? "" : ":3") \(how) linecolor \(i + 1) title \(Self.quote(layer.title))" : "using 1:2:3 with boxes"])
            }
        case let .bars(title, labels, values, reference):
            precondition(labels.count == values.count, "one label per bar")
            s += "set title \(Self.quote(title))\nset style fill solid 0.6\nunset key\n"
            let ticks = labels.enumerated().map { "\(Self.quote($1)) \($0)" }.joined(separator: ", ")
            if isText {
                // Across, one text row per bar, so that every label is readable however many classes there are.
                s += "set xrange [0:*]\nset yrange [\(Self.number(Double(labels.count) - 0.5)):-0.5]\nset ytics (\(ticks))\nset grid xtics\n"
                if let reference { s += "set arrow from \(Self.number(reference.value)), graph 0 to \(Self.number(reference.value)), graph 1 nohead\n" }
                add([values.indices.map(Double.init), values], ["using ($2/2):1:(0):2:($1-0.25):($1+0.25) with boxxyerror"])
            } else {
                s += "set boxwidth 0.8\nset yrange [0:*]\n"
                if !labels.isEmpty {
                    s += "set xrange [-0.6:\(Self.number(Double(labels.count) - 0.4))]\n"
                    s += "set xtics rotate by -45 font ',8' (\(ticks))\n"
                }
                if let reference { s += "set arrow from graph 0, first \(Self.number(reference.value)) to graph 1, first \(Self.number(reference.value)) nohead dashtype 2\n" }
                add([values.indices.map(Double.init), values], ["using 1:2 with boxes"])
            }
        case let .scatter(title, xlabel, ylabel, groups):
            s += "set title \(Self.quote(title))\nset xlabel \(Self.quote(xlabel))\nset ylabel \(Self.quote(ylabel))\n"
            // A margin so that points on the extremes are not drawn on the frame; smaller points as they get many.
            s += "set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n"
            let points = groups.reduce(0) { $0 + $1.x.count }
            let size = points <= 1_000 ? "1" : points <= 20_000 ? "0.5" : "0.25"
            var colour = 0
            for g in groups {
                let style: String
                switch g.marker {
                case .dot: colour += 1; style = "pointtype 7 pointsize \(size) linecolor \(colour)"
                case .ring: style = "pointtype 6 pointsize 2 linewidth 2 linecolor rgb 'black'"
                case .cross: style = "pointtype 2 pointsize 2 linewidth 2 linecolor rgb 'black'"
                case .triangle: style = "pointtype 9 pointsize 2 linecolor rgb 'black'"
                }
                add([g.x, g.y], ["using 1:2 with points \(style) title \(Self.quote(g.title))"])
            }
        }
        guard !layers.isEmpty else { throw PlotError.invalid("nothing to plot") }
        self.setup = s
        self.layers = layers
        self.tables = tables
        self.finish = toFile ? "unset output\n" : ""
    }

    /// Single-quoted: gnuplot expands backquotes (shell commands) inside double quotes, never inside single ones.
    public static func quote(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "''").replacingOccurrences(of: "\n", with: " ") + "'"
    }

    public static func number(_ v: Double) -> String { String(format: "%.17g", v) }
}
