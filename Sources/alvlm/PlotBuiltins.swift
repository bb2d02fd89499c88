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
                                                     "for an evaluation: accuracy per class, reliability diagram, or predicted vs true class counts")],
                                  summary: "learning curves (mean ± sd over seeds), accuracy per round, per-class bars, or a line") { [unowned self] args, _ in
            let figure = try Self.figure(args)
            let target = self.plotTarget(args)
            let text = try Plotter.render(figure, output: target)
            if args.has("to") || target == nil { self.print(text) } else if let target { self.figureWritten(target) }   // notebook figures appear as images, not as a message
            return .null
        })
        registry.register(Builtin("hist", [Parameter("data", .oneOf([.object("scores"), .list]), "scores (s.scores(pool, model)) or a list of numbers"),
                                           Parameter("bins", .integer, default: .number(30)),
                                           Parameter("range", .oneOf([.list, .nilValue]), default: .null, "[lo, hi], fixed so that histograms compare"), to],
                                  summary: "histogram of scores (entropy, calibrated entropy, U, ...)") { [unowned self] args, _ in
            guard args.int("bins") >= 1, args.int("bins") <= 1000 else { throw args.error("bins", "bins must be in 1...1000") }
            var values: [Double], title = "histogram"
            var range: (Double, Double)? = nil
            if let s = args.object("data", as: ScoresObject.self) { values = s.values; title = "\(s.name) scores"; range = s.range } else {
                values = try args.numbers("data")
            }
            values = values.filter(\.isFinite)
            guard !values.isEmpty else { throw args.error("data", "nothing to plot") }
            if case .list = args["range"] {
                let r = try args.numbers("range")
                guard r.count == 2, r[0] < r[1] else { throw args.error("range", "range must be [lo, hi] with lo < hi") }
                range = (r[0], r[1])
            }
            let target = self.plotTarget(args)
            let histogram = try Self.plotCall { try Histogram(values: values, bins: args.int("bins"), range: range) }
            let text = try Plotter.render(.histogram(title: title, histogram: histogram), output: target)
            if args.has("to") || target == nil { self.print(text) } else if let target { self.figureWritten(target) }
            return .null
        })
        registry.register(Builtin("scatter", [Parameter("x", .list, "x coordinates"), Parameter("y", .list, "y coordinates, as many as x"),
                                              Parameter("groups", .oneOf([.list, .nilValue]), default: .null, "a group per point (class names, labels...): one colour each"),
                                              Parameter("title", .string, default: .string("")), to],
                                  summary: "points in the plane, coloured by group (e.g. a 2-D projection of a pool)") { [unowned self] args, _ in
            let figure = try Self.scatter(args)
            let target = self.plotTarget(args)
            let text = try Plotter.render(figure, output: target)
            if args.has("to") || target == nil { self.print(text) } else if let target { self.figureWritten(target) }
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

    static func figure(_ args: Arguments) throws -> Figure {
        let data = args["data"]
        if case .object(let o) = data {
            if let c = o as? ComparisonObject {
                let series = c.comparison.strategies.map { name -> Series in
                    let curve = c.comparison.curve(name)
                    return Series(title: name, x: curve.labels, y: curve.mean.map { 100 * $0 }, sd: curve.sd.map { 100 * $0 })
                }
                let n = c.comparison.seeds.count
                return .curves(title: n == 1 ? "accuracy per round (1 seed)" : "accuracy per round (mean ± sd over \(n) seeds)", xlabel: "labels", ylabel: "accuracy (%)", series: series)
            }
            if let e = o as? ExperimentObject {
                let rounds = e.experiment.state.rounds
                return .curves(title: "accuracy per round", xlabel: "labels", ylabel: "accuracy (%)",
                               series: [Series(title: e.experiment.state.config.strategy.label, x: rounds.map { Double($0.labelsUsed) },
                                                       y: rounds.map { 100 * $0.accuracy }, sd: nil)])
            }
            if let e = o as? EvaluationObject {
                switch args.string("kind") {
                case "reliability":
                    let bins = e.evaluation.reliability.enumerated().filter { $0.element.count > 0 }
                    return .curves(title: "\(e.title): reliability (ECE \(String(format: "%.3f", e.evaluation.expectedCalibrationError)))",
                                   xlabel: "confidence", ylabel: "accuracy",
                                   series: [Series(title: "model", x: bins.map { $0.element.confidence }, y: bins.map { $0.element.accuracy }, sd: nil),
                                            Series(title: "perfectly calibrated", x: [0, 1], y: [0, 1], sd: nil)])
                case "predicted":
                    return .bars(title: "\(e.title): predicted / true count per class", labels: e.classNames,
                                 values: zip(e.evaluation.predictedHistogram, e.evaluation.trueHistogram).map { $1 > 0 ? Double($0) / Double($1) : 0 })
                default:
                    return .bars(title: "\(e.title): accuracy per class (%)", labels: e.classNames, values: e.evaluation.perClassAccuracy.map { 100 * ($0 ?? 0) })
                }
            }
            if let s = o as? ScoresObject {
                return .histogram(title: "\(s.name) scores", histogram: try plotCall { try Histogram(values: s.values, bins: 30, range: s.range) })
            }
        }
        let ys = try args.numbers("data")
        guard !ys.isEmpty else { throw args.error("data", "nothing to plot") }
        return .curves(title: "", xlabel: "", ylabel: "", series: [Series(title: "values", x: ys.indices.map(Double.init), y: ys, sd: nil)])
    }
}
