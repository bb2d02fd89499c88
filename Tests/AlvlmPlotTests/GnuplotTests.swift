@testable import AlvlmPlot
import AlvlmTestSupport
import CGnuplotIO
import XCTest

/// The C interface never lets an error escape as a crash; real gnuplot draws every figure kind from the binary
/// path; a gnuplot that fails or stops reading is an error the caller survives.
final class GnuplotTests: XCTestCase {
    func testCInterfaceFloat32ColumnsAndErrors() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let session = try XCTUnwrap(gpio_open(fds[1], nil, 0))
        var error = [CChar](repeating: 0, count: 256), out = [CChar](repeating: 0, count: 256)
        let x: [Float] = [1.5, -2], y: [Float] = [3, .infinity]
        x.withUnsafeBytes { xb in
            y.withUnsafeBytes { yb in
                let columns = UnsafeMutablePointer<UnsafeRawPointer?>.allocate(capacity: 2)
                defer { columns.deallocate() }
                columns[0] = xb.baseAddress; columns[1] = yb.baseAddress
                var table = gpio_table(columns: columns, column_count: 2, rows: 2, element: GPIO_FLOAT32)
                XCTAssertEqual(gpio_binary_format(session, &table, &out, out.count, &error, error.count), 0)
                XCTAssertEqual(String(cString: out), " format='%float%float' record=(2) ")
                XCTAssertEqual(gpio_send_binary(session, &table, &error, error.count), 0)
                // Too small an output buffer, no rows, no columns, a missing column, a quote in a file name: errors.
                XCTAssertEqual(gpio_binary_format(session, &table, &out, 8, &error, error.count), -1)
                table.rows = 0
                XCTAssertEqual(gpio_send_binary(session, &table, &error, error.count), -1)
                XCTAssertEqual(String(cString: error), "a table needs at least one row")
                table.rows = 2; table.column_count = 0
                XCTAssertEqual(gpio_send_binary(session, &table, &error, error.count), -1)
                table.column_count = 2; columns[1] = nil
                XCTAssertEqual(gpio_send_binary(session, &table, &error, error.count), -1)
                XCTAssertEqual(String(cString: error), "a column has no data")
                columns[1] = yb.baseAddress
                XCTAssertEqual(gpio_write_binary_file(session, &table, "/tmp/it's", &out, out.count, &error, error.count), -1)
                XCTAssertEqual(gpio_write_binary_file(session, &table, "/nonexistent-dir/t.bin", &out, out.count, &error, error.count), -1)
                XCTAssertEqual(String(cString: error), "cannot write /nonexistent-dir/t.bin")
            }
        }
        XCTAssertEqual(gpio_send_text(nil, "x", 1, &error, error.count), -1)
        XCTAssertEqual(gpio_close(session, &error, error.count), 0)
        var read = [Float](repeating: 0, count: 5)
        XCTAssertEqual(read.withUnsafeMutableBytes { readBytes(fds[0], $0.baseAddress, $0.count) }, 16)
        XCTAssertEqual(Array(read.prefix(4)), [1.5, 3, -2, .infinity])
        close(fds[0])
    }

    /// A reader that went away: the write fails with an error (SIGPIPE ignored), never a signal.
    func testWritingToAClosedPipeIsAnError() throws {
        Gnuplot.ignoreBrokenPipes()
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        close(fds[0])
        let stream = try GnuplotStream(fd: fds[1])
        XCTAssertThrowsError(try stream.sendBinary(DataTable(columns: [[Double](repeating: 1, count: 100_000)]))) {
            XCTAssertTrue("\($0)".contains("broken pipe"), "\($0)")
        }
        XCTAssertThrowsError(try stream.close())
    }

    var gnuplot: Gnuplot {
        get throws {
            guard let g = Gnuplot.locate(gnuplotPath: nil, searchPath: "/usr/bin:/bin") else {
                throw XCTSkip("gnuplot is not installed (Scripts/deps.sh installs gnuplot-nox)")
            }
            return g
        }
    }

    func testEveryFigureKindDrawsInTheTerminalAndToPNG() throws {
        let g = try gnuplot
        XCTAssertTrue(g.version()?.hasPrefix("gnuplot ") ?? false)
        let dir = NSTemporaryDirectory() + "alvlm-gnuplot-test-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let figures: [Figure] = [
            .curves(title: "curves", xlabel: "labels", ylabel: "%", series: [Series(title: "cec", x: [10, 20, 30], y: [50, 60, 65], sd: [1, 2, 1]),
                                                                             Series(title: "random", x: [10, 20, 30], y: [40, 45, 50])]),
            .histogram(title: "hist", layers: [HistogramLayer(title: "sin", histogram: try Histogram(values: (0..<1000).map { sin(Double($0)) }, bins: 20))]),
            .bars(title: "bars", labels: ["banded", "blotchy", "bubbly"], values: [30, 60, 90]),
            .scatter(title: "scatter", xlabel: "x", ylabel: "y", groups: [PointGroup(title: "a", x: [0, 1, 2], y: [0, 1, 4]), PointGroup(title: "b", x: [3], y: [-1])]),
        ]
        for (i, figure) in figures.enumerated() {
            let picture = try g.draw(try PlotProgram(figure, output: .text(columns: 80, rows: 24, ansi: false)))
            let lines = picture.split(separator: "\n", omittingEmptySubsequences: false)
            XCTAssertGreaterThanOrEqual(lines.count, 20, picture)
            XCTAssertTrue(lines.allSatisfy { $0.count <= 81 }, "\(lines.map(\.count))") // 80 columns and a form feed
            let png = dir + "/figure-\(i).png"
            XCTAssertEqual(try g.draw(try PlotProgram(figure, output: .file(png))), "")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
            XCTAssertGreaterThan(bytes.count, 1000)
            XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        }
        // The band's temporary data file is gone once gnuplot is done.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("alvlm-plot-") }
        XCTAssertEqual(leftovers, [])
    }

    /// gnuplot's own reading of the binary data: `stats` on a column gives back its mean and extremes.
    func testGnuplotReadsTheBinaryValuesExactly() throws {
        let g = try gnuplot
        let values = (0..<10_001).map { Double($0) * 0.001 - 3 }
        let table = DataTable(columns: [values])
        let r = try g.run(arguments: []) { stream in
            try stream.send("stats '-' binary" + (try stream.format(table)) + "using 1 nooutput\n")
            try stream.sendBinary(table)
            try stream.send("print sprintf('%.17g %.17g %.17g %d', STATS_mean, STATS_min, STATS_max, STATS_records)\n")
        }
        XCTAssertEqual(r.status, 0, r.errors)
        let fields = r.errors.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        XCTAssertEqual(fields.count, 4, r.errors)
        XCTAssertEqual(Double(fields[0])!, values.reduce(0, +) / Double(values.count), accuracy: 1e-12)
        XCTAssertEqual(Double(fields[1]), -3)
        XCTAssertEqual(Double(fields[2]), values.last)
        XCTAssertEqual(fields[3], "10001")
    }

    /// 100,000 points through the binary path against the same points as a text datablock, in the same run:
    /// gnuplot reads piped text a byte per read(2), so only the binary path is fast.
    func testALargeScatterIsFastThroughTheBinaryPath() throws {
        let g = try gnuplot
        var random = SplitMix(seed: 3)
        let n = 100_000
        let x = (0..<n).map { _ in Double.random(in: -1...1, using: &random) }, y = (0..<n).map { _ in Double.random(in: -1...1, using: &random) }
        let program = try PlotProgram(.scatter(title: "", xlabel: "x", ylabel: "y", groups: [PointGroup(title: "pool", x: x, y: y)]),
                                      output: .text(columns: 80, rows: 24, ansi: false))
        var text = program.setup + "$D << EOD\n"
        for i in 0..<n { text += PlotProgram.number(x[i]) + " " + PlotProgram.number(y[i]) + "\n" }
        text += "EOD\nplot $D " + program.layers[0].clause + "\n"
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        var binaryPicture = "", textPicture = ""
        let binary = try seconds { binaryPicture = try g.draw(program) }
        let plain = try seconds {
            let r = try g.run(arguments: []) { try $0.send(text) }
            XCTAssertEqual(r.status, 0, r.errors)
            textPicture = r.output
        }
        XCTAssertEqual(binaryPicture, textPicture, "both paths draw the same picture")
        XCTAssertLessThan(binary, plain / 2, "binary \(binary) s, text \(plain) s")
    }

    /// A gnuplot that reads a little, complains and exits, and one that exits without reading: clear errors, and
    /// the next plot works.
    func testAGnuplotThatStopsMidPlotIsAnErrorNotACrash() throws {
        let dir = NSTemporaryDirectory() + "alvlm-fake-gnuplot-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func fake(_ name: String, _ body: String) throws -> Gnuplot {
            let path = dir + "/" + name
            try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
            return try XCTUnwrap(Gnuplot.locate(gnuplotPath: path, searchPath: nil))
        }
        let big = try PlotProgram(.scatter(title: "", xlabel: "", ylabel: "", groups: [PointGroup(title: "p", x: Array(repeating: 1, count: 200_000), y: Array(repeating: 2, count: 200_000))]),
                                  output: .text(columns: 80, rows: 24, ansi: false))
        XCTAssertThrowsError(try fake("crashing", "head -c 100 >/dev/null; echo 'line 3: out of memory' >&2; exit 3").draw(big)) {
            XCTAssertEqual("\($0)", "gnuplot failed (exit status 3): line 3: out of memory")
        }
        XCTAssertThrowsError(try fake("leaving", "exit 0").draw(big)) {
            XCTAssertTrue("\($0)".hasPrefix("gnuplot stopped before the whole plot was sent"), "\($0)")
        }
        XCTAssertThrowsError(try fake("killed", "kill -9 $$").draw(big)) {
            XCTAssertTrue("\($0)".hasPrefix("gnuplot was killed by signal 9"), "\($0)")
        }
        XCTAssertNil(Gnuplot.locate(gnuplotPath: dir + "/missing", searchPath: nil))
        XCTAssertNil(Gnuplot.locate(gnuplotPath: nil, searchPath: dir))
        if let real = Gnuplot.locate(gnuplotPath: nil, searchPath: "/usr/bin:/bin") {
            XCTAssertFalse(try real.draw(big).isEmpty)
        }
    }
}

/// read(2), named apart from the test case's members.
func readBytes(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { Glibc.read(fd, buffer, count) }
