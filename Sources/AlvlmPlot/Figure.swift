/// What can be plotted, independent of how: gnuplot scripts (`PlotProgram`) and the text stand-in (`TextPlot`)
/// both start from a `Figure`.
public enum Figure {
    /// Lines over x, optionally with a ± sd band per point (learning curves, reliability diagrams), a horizontal
    /// reference line (the zero-shot accuracy) and a y axis with a minimum span (`nil`: gnuplot's autoscale).
    case curves(title: String, xlabel: String, ylabel: String, series: [Series], reference: ReferenceLine? = nil, axis: YAxis? = nil)
    /// Counts of values in equal-width bins; several layers (same bins) are overlaid on one axis.
    case histogram(title: String, layers: [HistogramLayer])
    /// One bar per label, with an optional reference value (e.g. 1 for "predicted as often as true").
    case bars(title: String, labels: [String], values: [Double], reference: ReferenceLine? = nil)
    /// Points in the plane, one colour per group.
    case scatter(title: String, xlabel: String, ylabel: String, groups: [PointGroup])

    /// Text rows a terminal plot needs: one per bar for bar charts (drawn across), else a screenful.
    public var textRows: Int {
        if case let .bars(_, labels, _, _) = self { return max(24, labels.count + 8) }
        return 24
    }
}

/// A horizontal line across curves, or a level across bars.
public struct ReferenceLine: Equatable {
    public var title: String
    public var value: Double
    public init(title: String, value: Double) { self.title = title; self.value = value }
}

/// The y axis of curves: padded around the data, never shorter than `minimumSpan` (so a 1-point change is not drawn
/// as the full height), kept within `limits` when given (0 to 100 for accuracies).
public struct YAxis: Equatable {
    public var minimumSpan: Double
    public var limits: (Double, Double)?

    public init(minimumSpan: Double, limits: (Double, Double)? = nil) { self.minimumSpan = minimumSpan; self.limits = limits }

    public static func == (a: YAxis, b: YAxis) -> Bool {
        a.minimumSpan == b.minimumSpan && a.limits?.0 == b.limits?.0 && a.limits?.1 == b.limits?.1
    }

    /// The range shown for data from `lo` to `hi`: 10% padding each side, widened about the middle to the minimum
    /// span, then moved (not squeezed) inside the limits.
    public func range(lo: Double, hi: Double) -> (Double, Double) {
        let pad = (hi - lo) * 0.1
        var (a, b) = (lo - pad, hi + pad)
        if b - a < minimumSpan { let mid = (lo + hi) / 2; (a, b) = (mid - minimumSpan / 2, mid + minimumSpan / 2) }
        if let (floor, ceiling) = limits {
            if b - a >= ceiling - floor { return (floor, ceiling) }
            if a < floor { (a, b) = (floor, floor + (b - a)) }
            if b > ceiling { (a, b) = (ceiling - (b - a), ceiling) }
        }
        return (a, b)
    }
}

public struct HistogramLayer {
    public var title: String
    public var histogram: Histogram
    public init(title: String, histogram: Histogram) { self.title = title; self.histogram = histogram }
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
    /// Small filled dots in the group's colour, or a marker drawn over them in black (open circles, crosses,
    /// filled triangles) for the few points a picture is about (labelled samples, a query, cluster centres).
    public enum Marker: Sendable, Equatable { case dot, ring, cross, triangle }
    public var title: String
    public var x: [Double]
    public var y: [Double]
    public var marker: Marker

    public init(title: String, x: [Double], y: [Double], marker: Marker = .dot) {
        precondition(x.count == y.count, "a point group needs as many x as y values")
        self.title = title; self.x = x; self.y = y; self.marker = marker
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
