import Foundation

/// The plain-text stand-in when there is no gnuplot: a table for curves, a bar per bin or label, a point count
/// per group for scatter plots.
public enum TextPlot {
    public static func render(_ figure: Figure) -> String {
        switch figure {
        case let .curves(title, xlabel, ylabel, series, reference, _):
            var lines = ["\(title)  (\(ylabel) by \(xlabel))"] + (reference.map { [String(format: "  %@: %.2f", $0.title, $0.value)] } ?? [])
            for c in series {
                lines.append("  \(c.title): " + zip(c.x, c.y).enumerated().map { i, p in
                    String(format: "%g: %.2f", p.0, p.1) + (c.sd.map { String(format: " ± %.2f", $0[i]) } ?? "")
                }.joined(separator: ", "))
            }
            return lines.joined(separator: "\n")
        case let .histogram(title, layers):
            let top = max(1, layers.flatMap(\.histogram.counts).max() ?? 1)
            return ([title] + layers.flatMap { layer -> [String] in
                let h = layer.histogram
                return (layers.count > 1 ? [layer.title + ":"] : []) + h.counts.enumerated().map { i, c in
                    String(format: "[%8.3g, %8.3g", h.edge(i), h.edge(i + 1)) + (i == h.counts.count - 1 ? "] | " : ") | ")
                        + String(repeating: "#", count: c * 50 / top) + " \(c)"
                }
            }).joined(separator: "\n")
        case let .bars(title, labels, values, _):
            let top = max(1e-12, values.max() ?? 1)
            return ([title] + zip(labels, values).map { l, v in
                String(l.prefix(20)).padding(toLength: 20, withPad: " ", startingAt: 0) + " | "
                    + String(repeating: "#", count: max(0, Int(v / top * 40))) + String(format: " %.3g", v)
            }).joined(separator: "\n")
        case let .scatter(title, xlabel, ylabel, groups):
            return ([title.isEmpty ? "\(ylabel) against \(xlabel)" : title] + groups.map { g in
                let xs = g.x.filter(\.isFinite), ys = g.y.filter(\.isFinite)
                return "  \(g.title): \(g.x.count) point\(g.x.count == 1 ? "" : "s")"
                    + (xs.isEmpty || ys.isEmpty ? "" : String(format: ", x in [%g, %g], y in [%g, %g]", xs.min()!, xs.max()!, ys.min()!, ys.max()!))
            }).joined(separator: "\n")
        }
    }
}
