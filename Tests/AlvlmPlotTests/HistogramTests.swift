import AlvlmPlot
import AlvlmTestSupport
import XCTest

/// Bins are [left, right) of equal width with the last one closed; the axis is the range.
final class HistogramTests: XCTestCase {
    /// A million values are binned here: the program gnuplot receives holds the 50 bins (centre, count, width), whose
    /// counts add up to the values, not the values (what keeps `hist` of a large array fast; no timing here).
    func testAMillionValuesReachGnuplotAsTheirBins() throws {
        let n = 1_000_000
        let histogram = try Histogram(values: (0..<n).map { sin(Double($0) * 0.001) }, bins: 50)
        for output in [PlotOutput.text(columns: 80, rows: 24, ansi: false), .file("h.png")] {
            let program = try PlotProgram(.histogram(title: "scores", layers: [HistogramLayer(title: "scores", histogram: histogram)]), output: output)
            XCTAssertEqual(program.tables.map(\.rows), [50])
            XCTAssertEqual(program.tables[0].columnCount, 3)
            XCTAssertEqual(program.tables[0].column(1).reduce(0, +), Double(n))
        }
    }

    func testBinsAreHalfOpenWithTheLastClosed() throws {
        let h = try Histogram(values: [0.05, 0.05, 0.15, 0.25, 0.25, 0.25], bins: 3, range: (0, 0.3))
        XCTAssertEqual(h.counts, [2, 1, 3])
        XCTAssertEqual(h.edge(0), 0); XCTAssertEqual(h.edge(3), 0.3)
        XCTAssertEqual(h.edge(1), 0.1, accuracy: 1e-15); XCTAssertEqual(h.edge(2), 0.2, accuracy: 1e-15)
        // An edge value goes to the bin on its right; `hi` itself to the last bin; outside values are counted apart.
        let edges = try Histogram(values: [0, 1, 2, 3, 4, -0.5, 4.5, .nan, .infinity], bins: 4, range: (0, 4))
        XCTAssertEqual(edges.counts, [1, 1, 1, 2])
        XCTAssertEqual(edges.outside, 4)
    }

    func testDefaultRangeAndDegenerateInputs() throws {
        let one = try Histogram(values: [5, 5, 5], bins: 1)
        XCTAssertEqual(one.counts, [3])
        XCTAssertEqual(one.lo, 4.5); XCTAssertEqual(one.hi, 5.5)
        let spread = try Histogram(values: [2, 4, 3, 10], bins: 4)
        XCTAssertEqual(spread.lo, 2); XCTAssertEqual(spread.hi, 10)
        XCTAssertEqual(spread.counts, [2, 1, 0, 1], "[2, 4) [4, 6) [6, 8) [8, 10]")
        // The widest finite range stays finite.
        let huge = try Histogram(values: [-Double.greatestFiniteMagnitude, 0, Double.greatestFiniteMagnitude], bins: 2)
        XCTAssertEqual(huge.counts, [1, 2])
        XCTAssertThrowsError(try Histogram(values: [1], bins: 0))
        XCTAssertThrowsError(try Histogram(values: [.nan], bins: 3))
        XCTAssertThrowsError(try Histogram(values: [1], bins: 3, range: (1, 1)))
        XCTAssertThrowsError(try Histogram(values: [1], bins: 3, range: (0, .infinity)))
    }

    func testCountsMatchANaiveCountOnRandomData() throws {
        var g = SplitMix(seed: 7)
        for _ in 0..<20 {
            let bins = Int.random(in: 1...40, using: &g)
            let values = (0..<500).map { _ in Double.random(in: -3...3, using: &g) }
            let h = try Histogram(values: values, bins: bins, range: (-2, 2))
            var naive = [Int](repeating: 0, count: bins)
            for v in values where v >= -2 && v <= 2 {
                // Exact rational comparison against the edges lo + i * (hi - lo) / bins.
                var i = 0
                while i + 1 < bins && v >= -2 + 4 * Double(i + 1) / Double(bins) { i += 1 }
                naive[i] += 1
            }
            XCTAssertEqual(h.counts, naive)
            XCTAssertEqual(h.counts.reduce(0, +) + h.outside, values.count)
        }
    }
}
