/// What can be plotted, independent of how: gnuplot scripts (`PlotProgram`) and the text stand-in (`TextPlot`)
/// both start from a `Figure`.
public enum Figure {
    /// Lines over x, optionally with a ± sd band per point (learning curves, reliability diagrams).
    case curves(title: String, xlabel: String, ylabel: String, series: [Series])
    /// Counts of values in equal-width bins.
    case histogram(title: String, histogram: Histogram)
    /// One bar per label.
    case bars(title: String, labels: [String], values: [Double])
    /// Points in the plane, one colour per group.
    case scatter(title: String, xlabel: String, ylabel: String, groups: [PointGroup])
}

public struct Series {
    public var title: String
    public var x: [Double]
    public var y: [Double]
    public var sd: [Double]?

    public init(title: String, x: [Double], y: [Double], sd: [Double]? = nil) {
        precondition(x.count == y.count && (sd?.count ?? x.count) == x.count, "a series needs as many x as y (and sd) values")
        self.title = title; self.x = x; self.y = y; self.sd = sd
    }
}

public struct PointGroup {
    public var title: String
    public var x: [Double]
    public var y: [Double]

    public init(title: String, x: [Double], y: [Double]) {
        precondition(x.count == y.count, "a point group needs as many x as y values")
        self.title = title; self.x = x; self.y = y
    }
}

/// Equal-width bins over [lo, hi]: each bin is [left, right) and the last one is closed, so `hi` itself counts.
/// Non-finite values and values outside the range are left out (and counted in `outside`).
public struct Histogram: Equatable {
    public let lo: Double
    public let hi: Double
    public let counts: [Int]
    public let outside: Int

    /// `range` nil: the values' own range (widened by 0.5 each side when all values are equal).
    public init(values: [Double], bins: Int, range: (Double, Double)? = nil) throws {
        guard bins >= 1 else { throw PlotError.invalid("a histogram needs at least 1 bin, not \(bins)") }
        let finite = values.filter(\.isFinite)
        var lo: Double, hi: Double
        if let range {
            guard range.0.isFinite, range.1.isFinite, range.0 < range.1 else {
                throw PlotError.invalid("a histogram range must be finite with lo < hi, not [\(range.0), \(range.1)]")
            }
            (lo, hi) = range
        } else {
            guard let min = finite.min(), let max = finite.max() else { throw PlotError.invalid("no finite values to count") }
            (lo, hi) = min < max ? (min, max) : (min - 0.5, max + 0.5)
        }
        // Halves keep the arithmetic finite for ranges as wide as the doubles themselves.
        let span = hi / 2 - lo / 2
        var counts = [Int](repeating: 0, count: bins), outside = values.count - finite.count
        for v in finite {
            guard v >= lo, v <= hi else { outside += 1; continue }
            let slot = Int(((v / 2 - lo / 2) / span * Double(bins)).rounded(.down))
            counts[min(max(slot, 0), bins - 1)] += 1
        }
        self.lo = lo; self.hi = hi; self.counts = counts; self.outside = outside
    }

    /// The left edge of bin `i` (`edge(counts.count)` is `hi`).
    public func edge(_ i: Int) -> Double { i == counts.count ? hi : lo + (hi / 2 - lo / 2) * 2 * Double(i) / Double(counts.count) }
}

public enum PlotError: Error, Equatable, CustomStringConvertible {
    /// The figure cannot be drawn (no data, a bad range, an unknown output type).
    case invalid(String)
    /// gnuplot could not be started, stopped early or reported an error.
    case gnuplot(String)

    public var description: String {
        switch self {
        case .invalid(let m), .gnuplot(let m): return m
        }
    }
}
