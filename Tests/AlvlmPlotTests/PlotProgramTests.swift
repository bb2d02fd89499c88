@testable import AlvlmPlot
import XCTest

/// Every figure kind becomes the expected script and tables; the stream sent through gnuplot-iostream carries
/// the script text and the tables' exact values in gnuplot's binary record format.
final class PlotProgramTests: XCTestCase {
    let text = PlotOutput.text(columns: 80, rows: 24, ansi: false)

    func testCurvesInTheTerminalAndInFiles() throws {
        let figure = Figure.curves(title: "accuracy", xlabel: "labels", ylabel: "%", series: [
            Series(title: "cec", x: [1, 2, 3], y: [50, 60, 65], sd: [1, 2, 0.5]),
            Series(title: "it's random", x: [1, 2, 3], y: [40, 45, 50]),
        ])
        let terminal = try PlotProgram(figure, output: text)
        XCTAssertTrue(terminal.setup.hasPrefix("set terminal dumb size 80,24 mono\n"), terminal.setup)
        XCTAssertEqual(terminal.layers.map(\.clause), ["using 1:2:3 with yerrorlines linecolor 1 title 'cec'",
                                                       "using 1:2 with linespoints linecolor 2 title 'it''s random'"])
        XCTAssertEqual(terminal.tables, [DataTable(columns: [[1, 2, 3], [50, 60, 65], [1, 2, 0.5]]), DataTable(columns: [[1, 2, 3], [40, 45, 50]])])
        XCTAssertEqual(terminal.uses, [1, 1])
        XCTAssertEqual(terminal.finish, "")
        // To a file the band and its line draw the same table: it is used twice.
        let file = try PlotProgram(figure, output: .file("/tmp/a b.png"))
        XCTAssertTrue(file.setup.contains("set terminal pngcairo") && file.setup.contains("set output '/tmp/a b.png'\n"), file.setup)
        XCTAssertEqual(file.uses, [2, 1])
        XCTAssertEqual(file.layers[0].clause, "using 1:($2-$3):($2+$3) with filledcurves linecolor 1 notitle")
        XCTAssertEqual(file.finish, "unset output\n")
        XCTAssertTrue(try PlotProgram(figure, output: .file("x.svg")).setup.hasPrefix("set terminal svg"))
        XCTAssertThrowsError(try PlotProgram(figure, output: .file("x.gif"))) { XCTAssertTrue("\($0)".contains(".png or .svg")) }
        XCTAssertTrue(try PlotProgram(figure, output: .sixel).setup.hasPrefix("set terminal sixelgd"))
    }

    func testHistogramBarsAndScatter() throws {
        let h = try Histogram(values: [0.05, 0.05, 0.15, 0.25, 0.25, 0.25], bins: 3, range: (0, 0.3))
        let hist = try PlotProgram(.histogram(title: "entropy", layers: [HistogramLayer(title: "entropy", histogram: h)]), output: text)
        XCTAssertTrue(hist.setup.contains("set xrange [0:0.29999999999999999]\n"), hist.setup)
        XCTAssertEqual(hist.layers.map(\.clause), ["using 1:2:3 with boxes"])
        let t = hist.tables[0]
        XCTAssertEqual(t.column(1), [2, 1, 3])
        for (i, centre) in [0.05, 0.15, 0.25].enumerated() {
            XCTAssertEqual(t.column(0)[i], centre, accuracy: 1e-15)
            XCTAssertEqual(t.column(2)[i], 0.1, accuracy: 1e-15)
        }
        let bars = try PlotProgram(.bars(title: "per class", labels: ["banded", "o'dotted"], values: [0.5, 0.25]), output: .file("/tmp/b.png"))
        XCTAssertTrue(bars.setup.contains("set xtics rotate by -45 font ',8' ('banded' 0, 'o''dotted' 1)\n"), bars.setup)
        XCTAssertEqual(bars.tables, [DataTable(columns: [[0, 1], [0.5, 0.25]])])
        // In a text terminal bars go across, a row per label (readable with any number of classes), with the reference as a rule.
        let across = try PlotProgram(.bars(title: "ratio", labels: ["banded", "o'dotted"], values: [0.5, 2], reference: ReferenceLine(title: "unbiased", value: 1)), output: text)
        XCTAssertTrue(across.setup.contains("set yrange [1.5:-0.5]\nset ytics ('banded' 0, 'o''dotted' 1)\n"), across.setup)
        XCTAssertTrue(across.setup.contains("set arrow from 1, graph 0 to 1, graph 1 nohead\n"), across.setup)
        XCTAssertEqual(across.layers.map(\.clause), ["using ($2/2):1:(0):2:($1-0.25):($1+0.25) with boxxyerror"])
        XCTAssertEqual(Figure.bars(title: "", labels: (0..<40).map(String.init), values: [Double](repeating: 1, count: 40)).textRows, 48)
        let scatter = try PlotProgram(.scatter(title: "map", xlabel: "pc1", ylabel: "pc2", groups: [
            PointGroup(title: "a", x: [0, 1], y: [1, 0]), PointGroup(title: "empty", x: [], y: []), PointGroup(title: "b", x: [2], y: [3]),
        ]), output: text)
        XCTAssertEqual(scatter.layers.count, 2, "empty groups draw nothing")
        XCTAssertEqual(scatter.layers[1].clause, "using 1:2 with points pointtype 7 pointsize 1 linecolor 3 title 'b'")
        XCTAssertTrue(scatter.setup.contains("set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n"), scatter.setup)
        XCTAssertThrowsError(try PlotProgram(.curves(title: "", xlabel: "", ylabel: "", series: [Series(title: "none", x: [], y: [])]), output: text)) {
            XCTAssertEqual($0 as? PlotError, .invalid("nothing to plot"))
        }
    }

    /// Accuracy axes are padded, at least the minimum span tall and kept inside their limits; a reference line spans
    /// the curves; overlaid histograms share bins and carry their titles (issue 12 item 15).
    func testAxesReferenceLinesAndOverlays() throws {
        let axis = YAxis(minimumSpan: 10, limits: (0, 100))
        XCTAssertEqual(axis.range(lo: 50, hi: 51).0, 45.5, accuracy: 1e-12)
        XCTAssertEqual(axis.range(lo: 50, hi: 51).1, 55.5, accuracy: 1e-12)
        XCTAssertEqual(axis.range(lo: 20, hi: 70).0, 15, accuracy: 1e-12)
        XCTAssertEqual(axis.range(lo: 20, hi: 70).1, 75, accuracy: 1e-12)
        XCTAssertEqual(axis.range(lo: 98, hi: 99).1, 100, "moved inside the limits, not squeezed")
        XCTAssertEqual(axis.range(lo: 98, hi: 99).0, 90, accuracy: 1e-12)
        XCTAssertEqual(axis.range(lo: 0, hi: 100).0, 0); XCTAssertEqual(axis.range(lo: 0, hi: 100).1, 100)
        let curves = Figure.curves(title: "accuracy", xlabel: "labels", ylabel: "accuracy (%)",
                                   series: [Series(title: "cec", x: [10, 20], y: [60, 61], sd: [0.5, 0.5])],
                                   reference: ReferenceLine(title: "zero-shot 58.6", value: 58.6), axis: axis)
        let program = try PlotProgram(curves, output: text)
        XCTAssertTrue(program.setup.contains("set title 'accuracy [y: accuracy (%)]'\n"), "no y label across the tick labels in text: \(program.setup)")
        XCTAssertFalse(program.setup.contains("set ylabel"))
        let (lo, hi) = axis.range(lo: 58.6, hi: 61.5)
        XCTAssertTrue(program.setup.contains("set yrange [\(PlotProgram.number(lo)):\(PlotProgram.number(hi))]\n"), program.setup)
        XCTAssertEqual(program.tables.last, DataTable(columns: [[10, 20], [58.6, 58.6]]))
        XCTAssertEqual(program.layers.last?.clause, "using 1:2 with lines dashtype 2 linecolor rgb 'gray40' title 'zero-shot 58.6'")
        XCTAssertTrue(try PlotProgram(curves, output: .file("/tmp/c.png")).setup.contains("noenhanced"), "underscores are not subscripts")

        let a = try Histogram(values: [0.1, 0.2, 0.2], bins: 2, range: (0, 1)), b = try Histogram(values: [0.9], bins: 2, range: (0, 1))
        let overlay = Figure.histogram(title: "h", layers: [HistogramLayer(title: "entropy", histogram: a), HistogramLayer(title: "calibrated", histogram: b)])
        let file = try PlotProgram(overlay, output: .file("/tmp/h.png"))
        XCTAssertEqual(file.layers.map(\.clause), ["using 1:2:3 with boxes linecolor 1 title 'entropy'", "using 1:2:3 with boxes linecolor 2 title 'calibrated'"])
        XCTAssertTrue(file.setup.contains("transparent solid 0.35") && !file.setup.contains("unset key"), file.setup)
        XCTAssertEqual(try PlotProgram(overlay, output: text).layers.map(\.clause), ["using 1:2 with histeps linecolor 1 title 'entropy'", "using 1:2 with histeps linecolor 2 title 'calibrated'"])
        let other = try Histogram(values: [0.9], bins: 3, range: (0, 1))
        XCTAssertThrowsError(try PlotProgram(.histogram(title: "", layers: [HistogramLayer(title: "a", histogram: a), HistogramLayer(title: "b", histogram: other)]), output: text))
    }

    /// The bytes gnuplot would read: text, the plot command with each inline table's binary format, then the
    /// tables' rows as native doubles in order; tables drawn twice go to a file named in the command instead.
    func testTheStreamCarriesScriptAndExactBinaryRows() throws {
        let dir = try temporaryDirectory()
        let figure = Figure.curves(title: "t", xlabel: "x", ylabel: "y", series: [
            Series(title: "band", x: [1, 2], y: [0.1, 1e-300], sd: [0.5, -0]),
            Series(title: "line", x: [3, 4, 5], y: [.pi, -.pi, 7]),
        ])
        let program = try PlotProgram(figure, output: .file(dir + "/out.png"))
        let copy = dir + "/stream.gp"
        let fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let stream = try GnuplotStream(fd: fd)
        try program.send(to: stream, dataDirectory: { dir })
        try stream.close()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: copy))
        let plotLine = "plot  '\(dir)/table-0.bin' binary format='%double%double%double' record=(2) using 1:($2-$3):($2+$3) with filledcurves linecolor 1 notitle, \\\n"
            + "      '\(dir)/table-0.bin' binary format='%double%double%double' record=(2) using 1:2 with linespoints linecolor 1 title 'band', \\\n"
            + "     '-' binary format='%double%double' record=(3) using 1:2 with linespoints linecolor 2 title 'line'\n"
        let head = Data((program.setup + plotLine).utf8)
        XCTAssertEqual(bytes.prefix(head.count), head, String(decoding: bytes.prefix(head.count + 40), as: UTF8.self))
        let rest = bytes.dropFirst(head.count)
        XCTAssertEqual(rest.count, 3 * 2 * 8 + Data("unset output\n".utf8).count)
        XCTAssertEqual(doubles(Data(rest.prefix(48))), [3, .pi, 4, -.pi, 5, 7])
        XCTAssertEqual(Data(rest.dropFirst(48)), Data("unset output\n".utf8))
        // The file table, row by row.
        XCTAssertEqual(doubles(try Data(contentsOf: URL(fileURLWithPath: dir + "/table-0.bin"))), [1, 0.1, 0.5, 2, 1e-300, -0])
    }

    func doubles(_ data: Data) -> [Double] {
        data.withUnsafeBytes { raw in (0..<raw.count / 8).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) } }
    }

    func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "alvlm-plot-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }
}
