import AlvlmActive
import AlvlmBindings
import AlvlmEngine
import AlvlmLanguage
import AlvlmPlot
import Foundation

/// The plotting builtins (plot, hist, scatter) and the arrays they often draw (load_npy, save_npy).
extension Session {
    func registerPlots() {
        registry.group = .plots
        let to = Parameter("to", .oneOf([.string, .nilValue]), default: .null, "a .png or .svg file; the terminal otherwise")
        registry.register(Builtin("plot", [Parameter("data", .any, "a comparison, an experiment, an evaluation or a list of numbers"), to,
                                           Parameter("kind", .choice(["per-class", "reliability", "predicted"]), default: .string("per-class"),
                                                     "for an evaluation: accuracy per class, reliability diagram, or predicted vs true class counts"),
                                           Parameter("zeroshot", .bool, default: .bool(true), "learning curves: draw the zero-shot accuracy as a dashed line (when known)")],
                                  summary: "learning curves (mean ± sd over seeds), accuracy per round, per-class bars, or a line",
                                  details: "Accuracy axes span at least 10 points (within 0-100), so a small change is not drawn as the full height.") { [unowned self] args, _ in
            let figure = try Self.figure(args)
            try self.present(figure, args)
            return .null
        })
        registry.register(Builtin("hist", [Parameter("data", .oneOf([.instance(ScoresObject.self), .list]),
                                                     "scores (s.scores(pool, model)), a list of numbers, or a list of those to overlay"),
                                           Parameter("bins", .integer, default: .number(30)),
                                           Parameter("range", .oneOf([.list, .nilValue]), default: .null, "[lo, hi], fixed so that histograms compare"), to,
                                           Parameter("labels", .oneOf([.list, .nilValue]), default: .null, "names of the overlaid distributions (default: their score names)")],
                                  summary: "histogram of scores (entropy, calibrated entropy, U, ...); hist([a, b], labels: [...]) overlays several") { [unowned self] args, _ in
            guard args.int("bins") >= 1, args.int("bins") <= 1000 else { throw args.error("bins", "bins must be in 1...1000") }
            let layers = try Self.histogramData(args)
            var range: (Double, Double)? = nil
            if case .list = args["range"] {
                let r = try args.numbers("range")
                guard r.count == 2, r[0] < r[1] else { throw args.error("range", "range must be [lo, hi] with lo < hi") }
                range = (r[0], r[1])
            } else if layers.count > 1 || layers[0].range == nil {
                // One set of bins for all layers: the union of their natural ranges, else of their values.
                let ranges = layers.compactMap(\.range)
                if ranges.count == layers.count { range = (ranges.map(\.0).min()!, ranges.map(\.1).max()!) }
                else if let lo = layers.flatMap(\.values).min(), let hi = layers.flatMap(\.values).max(), lo < hi { range = (lo, hi) }
            } else {
                range = layers[0].range
            }
            let histograms = try layers.map { layer in
                HistogramLayer(title: layer.title, histogram: try Self.plotCall { try Histogram(values: layer.values, bins: args.int("bins"), range: range) })
            }
            let fromScores: Bool = { if case .object = args["data"] { return true }; return false }()
            let title = layers.count > 1 ? layers.map(\.title).joined(separator: " vs ") : fromScores ? "\(layers[0].title) scores" : layers[0].title
            try self.present(.histogram(title: title, layers: histograms), args)
            return .null
        })
        registry.register(Builtin("scatter", [Parameter("x", .list, "x coordinates"), Parameter("y", .list, "y coordinates, as many as x"),
                                              Parameter("groups", .oneOf([.list, .nilValue]), default: .null, "a group per point (class names, labels...): one colour each"),
                                              Parameter("title", .string, default: .string("")), to],
                                  summary: "points in the plane, coloured by group (e.g. a 2-D projection of a pool)") { [unowned self] args, _ in
            let figure = try Self.scatter(args)
            try self.present(figure, args)
            return .null
        })
        registry.group = .files
        registry.register(Builtin("load_npy", [Parameter("path", .string, "a .npy file of float32 or float64 values, shape (N,), (N, 1) or (N, D)"),
                                               Parameter("column", .oneOf([.integer, .nilValue]), default: .null, "for (N, D) arrays: the column to take (from 0)")],
                                  summary: "a list of numbers from a numpy .npy file (e.g. scores computed elsewhere)") { args, _ in
            let path = (args.string("path") as NSString).expandingTildeInPath
            let array = try Bindings.engineCall { try NPY.read(path) }
            guard array.dtype == .float32 || array.dtype == .float64 else {
                throw args.error("path", "\(args.string("path")) holds \(array.dtype.rawValue) values; load_npy reads float32 (<f4) or float64 (<f8)")
            }
            let values = array.doubles()
            let shape = array.shape
            switch shape.count {
            case 1:
                guard !args.has("column") else { throw args.error("column", "\(args.string("path")) has shape (\(shape[0]),): there are no columns to choose") }
                return .list(values.map { .number($0) })
            case 2:
                let (rows, columns) = (shape[0], shape[1])
                let column: Int
                if args.has("column") { column = args.int("column") } else if columns == 1 { column = 0 } else {
                    throw args.error("path", "\(args.string("path")) has shape (\(rows), \(columns)): choose a column with column: 0...\(columns - 1)")
                }
                guard column >= 0, column < columns else { throw args.error("column", "column \(column) is outside 0...\(columns - 1)") }
                return .list((0..<rows).map { .number(values[$0 * columns + column]) })
            default:
                throw args.error("path", "\(args.string("path")) has shape \(shape): load_npy reads (N,), (N, 1) or (N, D)")
            }
        })
        registry.register(Builtin("save_npy", [Parameter("values", .list, "numbers"), Parameter("path", .string, "the .npy file to write (float64, shape (N,))")],
                                  summary: "write a list of numbers as a numpy .npy file (float64), atomically") { [unowned self] args, _ in
            let values = try args.numbers("values")
            let path = (args.string("path") as NSString).expandingTildeInPath
            try Bindings.engineCall { try writeAtomically(NPY.encode(values, shape: [values.count]), to: path) }
            self.print("wrote \(path): \(values.count) value\(values.count == 1 ? "" : "s") (float64)")
            return .null
        })
    }

    /// Plot-module errors as language errors (the call site adds the location).
    /// Draws a figure where the call sends it (`to:`, a notebook figure, or the terminal) and shows what happened:
    /// the text or the file written; notebook figures appear as images, not as a message.
    func present(_ figure: Figure, _ args: Arguments) throws {
        let target = plotTarget(args)
        let text = try draw(figure, output: target)
        if args.has("to") || target == nil { print(text) } else if let target { figureWritten(target) }
    }

    static func plotCall<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as PlotError { throw LanguageError(.argument, e.description) }
    }

    static func scatter(_ args: Arguments) throws -> Figure {
        let x = try args.numbers("x"), y = try args.numbers("y")
        guard x.count == y.count else { throw args.error("y", "x has \(x.count) values and y \(y.count): give one y per x") }
        guard !x.isEmpty else { throw args.error("x", "nothing to plot") }
        guard args.has("groups") else {
            return .scatter(title: args.string("title"), xlabel: "x", ylabel: "y", groups: [PointGroup(title: "points", x: x, y: y)])
        }
        let groups = args["groups"].elements ?? []
        guard groups.count == x.count else { throw args.error("groups", "\(groups.count) groups for \(x.count) points: give one group per point") }
        var order: [String] = [], members: [String: [Int]] = [:]
        for (i, g) in groups.enumerated() {
            let key = g.description
            if members[key] == nil { order.append(key) }
            members[key, default: []].append(i)
        }
        guard order.count <= 100 else { throw args.error("groups", "\(order.count) different groups: at most 100 can be told apart") }
        return .scatter(title: args.string("title"), xlabel: "x", ylabel: "y", groups: order.map { key in
            PointGroup(title: key, x: members[key]!.map { x[$0] }, y: members[key]!.map { y[$0] })
        })
    }

    /// What `hist` draws: one distribution (scores or numbers) or several (a list of them), each with its title,
    /// finite values and natural range.
    static func histogramData(_ args: Arguments) throws -> [(title: String, values: [Double], range: (Double, Double)?)] {
        func one(_ v: Value, _ fallback: String) throws -> (title: String, values: [Double], range: (Double, Double)?) {
            if case .object(let o) = v, let s = o as? ScoresObject { return (s.name, s.values.filter(\.isFinite), s.range) }
            guard let items = v.elements else { throw args.error("data", "hist needs scores or a list of numbers, not \(v.typeName)") }
            let values = try items.map { item -> Double in
                switch item {
                case .number(let d): return d
                case .percent(let p): return p / 100
                default: throw args.error("data", "a list of numbers is needed, found \(item.typeName)")
                }
            }
            return (fallback, values.filter(\.isFinite), nil)
        }
        let data = args["data"]
        let nested: [Value]? = {
            guard case .list(let items) = data, !items.isEmpty else { return nil }
            return items.allSatisfy { if case .list = $0 { return true }; if case .range = $0 { return true }; if case .object = $0 { return true }; return false } ? items : nil
        }()
        var layers = try (nested ?? [data]).enumerated().map { try one($1, nested == nil ? "histogram" : "data \($0 + 1)") }
        if args.has("labels") {
            guard let names = args["labels"].elements?.compactMap({ v -> String? in if case .string(let s) = v { return s }; return nil }),
                  names.count == layers.count else {
                throw args.error("labels", "give one name (a string) per distribution: \(layers.count)")
            }
            for i in layers.indices { layers[i].title = names[i] }
        }
        for layer in layers where layer.values.isEmpty { throw args.error("data", "nothing to plot in \(layer.title)") }
        return layers
    }

    /// Accuracy axes in percent: at least 10 points tall, within 0-100.
    static let accuracyAxis = YAxis(minimumSpan: 10, limits: (0, 100))

    /// The x axis of learning curves: labels, with what 1% of the pool and one label per class are, so both
    /// protocols read off the same axis.
    static func labelAxis(poolSize: Int?, classes: Int?) -> String {
        guard let n = poolSize, n > 0, let k = classes, k > 0 else { return "labels" }
        return String(format: "labels (1%% of the pool = %.0f; %d classes = 1 per class)", Double(n) / 100, k)
    }

    static func figure(_ args: Arguments) throws -> Figure {
        let data = args["data"]
        if case .object(let o) = data {
            if let c = o as? ComparisonObject {
                let series = c.comparison.strategies.map { name -> Series in
                    let curve = c.comparison.curve(name)
                    return Series(title: name, x: curve.labels, y: curve.mean.map { 100 * $0 }, sd: curve.sd.map { 100 * $0 })
                }
                let n = c.comparison.seeds.count
                let zeroShot = args.bool("zeroshot") ? c.comparison.zeroShotAccuracy.map { ReferenceLine(title: String(format: "zero-shot %.1f", 100 * $0), value: 100 * $0) } : nil
                return .curves(title: (n == 1 ? "accuracy per round (1 seed)" : "accuracy per round (mean ± sd over \(n) seeds)") + (c.comparison.isPartial ? ", partial" : ""),
                               xlabel: labelAxis(poolSize: c.comparison.poolSize, classes: c.comparison.classes), ylabel: "accuracy (%)",
                               series: series, reference: zeroShot, axis: accuracyAxis)
            }
            if let e = o as? ExperimentObject {
                let rounds = e.experiment.state.rounds
                let zeroShot = args.bool("zeroshot") ? (try? e.experiment.zeroShotAccuracy()).map { ReferenceLine(title: String(format: "zero-shot %.1f", 100 * $0), value: 100 * $0) } : nil
                return .curves(title: "accuracy per round", xlabel: labelAxis(poolSize: e.poolObject.pool.ids(.train).count, classes: e.poolObject.pool.classes),
                               ylabel: "accuracy (%)",
                               series: [Series(title: e.experiment.state.config.strategy.label, x: rounds.map { Double($0.labelsUsed) },
                                                       y: rounds.map { 100 * $0.accuracy }, sd: nil)], reference: zeroShot, axis: accuracyAxis)
            }
            if let e = o as? EvaluationObject {
                switch args.string("kind") {
                case "reliability":
                    let bins = e.evaluation.reliability.enumerated().filter { $0.element.count > 0 }
                    return .curves(title: "\(e.title): reliability (ECE \(String(format: "%.3f", e.evaluation.expectedCalibrationError)))",
                                   xlabel: "confidence", ylabel: "accuracy",
                                   series: [Series(title: "model", x: bins.map { $0.element.confidence }, y: bins.map { $0.element.accuracy }, sd: nil),
                                            Series(title: "perfectly calibrated", x: [0, 1], y: [0, 1], sd: nil)],
                                   axis: YAxis(minimumSpan: 1, limits: (0, 1)))
                case "predicted":
                    return .bars(title: "\(e.title): predicted / true count per class (1 = unbiased)", labels: e.classNames,
                                 values: zip(e.evaluation.predictedHistogram, e.evaluation.trueHistogram).map { $1 > 0 ? Double($0) / Double($1) : 0 },
                                 reference: ReferenceLine(title: "unbiased", value: 1))
                default:
                    return .bars(title: "\(e.title): accuracy per class (%)", labels: e.classNames, values: e.evaluation.perClassAccuracy.map { 100 * ($0 ?? 0) })
                }
            }
            if let s = o as? ScoresObject {
                return .histogram(title: "\(s.name) scores", layers: [HistogramLayer(title: s.name, histogram: try plotCall { try Histogram(values: s.values, bins: 30, range: s.range) })])
            }
        }
        let ys = try args.numbers("data")
        guard !ys.isEmpty else { throw args.error("data", "nothing to plot") }
        return .curves(title: "", xlabel: "", ylabel: "", series: [Series(title: "values", x: ys.indices.map(Double.init), y: ys, sd: nil)])
    }
}
