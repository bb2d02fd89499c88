import AlvlmActive
import AlvlmBindings
import AlvlmEngine
import AlvlmLanguage
import AlvlmPlot
import Foundation

/// `map(...)`: the pool as points in the plane of its first two principal components, coloured by class or
/// uncertainty, with the labelled samples, a query and its cluster centres on top.
extension Session {
    func registerMap() {
        registry.group = .plots
        registry.register(Builtin("map", [
            Parameter("data", .oneOf([.instance(PoolObject.self), .instance(ExperimentObject.self)]), "a pool (with a model) or an experiment"),
            Parameter("model", .oneOf([.instance(ModelObject.self), .nilValue]), default: .null, "the model whose image features are mapped (a pool needs one)"),
            Parameter("query", .oneOf([.instance(QueryObject.self), .nilValue]), default: .null, "a batch to mark, with its cluster centres when it has them (cec)"),
            Parameter("color", .choice(["predicted", "uncertainty", "true"]), default: .string("predicted"),
                      "the zero-shot prediction, the zero-shot entropy in quartiles, or the true class (the simulated oracle's: simulations only)"),
            Parameter("round", .oneOf([.integer, .nilValue]), default: .null, "an experiment's round: the labels before it and its query"),
            Parameter("to", .oneOf([.string, .nilValue]), default: .null, "a .png or .svg file; the terminal otherwise"),
        ], summary: "a map of the pool: PCA of the image features, coloured by class or uncertainty, labelled set, query and centres marked",
           details: "The projection is the same for every round of an experiment (the zero-shot features), so maps compare.") { [unowned self] args, interp in
            let figure = try self.mapFigure(args, interp)
            try self.present(figure, args)
            return .null
        })
    }

    func mapFigure(_ args: Arguments, _ interp: Interpreter) throws -> Figure {
        let pool: PoolObject, model: ModelObject
        var labelled: [Int] = [], queried: [Int] = []
        let experiment = args.object("data", as: ExperimentObject.self)
        if let e = experiment {
            pool = e.poolObject; model = e.modelObject
            let rounds = e.experiment.state.rounds
            if args.has("round") {
                let r = args.int("round")
                guard (1...max(1, rounds.count)).contains(r), r <= rounds.count else {
                    throw args.error("round", "the experiment has finished \(rounds.count) round\(rounds.count == 1 ? "" : "s"): round must be in 1...\(rounds.count)")
                }
                labelled = rounds.prefix(r - 1).flatMap(\.queried).filter { e.experiment.state.labeled[$0] != nil }
                queried = rounds[r - 1].queried
            } else {
                labelled = Array(e.experiment.state.labeled.keys).sorted()
            }
        } else {
            guard let m = args.object("model", as: ModelObject.self) else { throw args.error("model", "a pool's map needs a model: map(pool, model)") }
            guard !args.has("round") else { throw args.error("round", "round applies to an experiment: map(run, round: 2)") }
            pool = args.object("data", as: PoolObject.self)!; model = m
        }
        let features = try Bindings.engineCall { try pool.features(.train, model: model, host: interp.host) }
        let n = features.ids.count, d = features.width
        let projection = try Bindings.engineCall { try Projection(normalizedRows(features.values, width: d), rows: n, width: d) }
        let (x, y) = projection.project(normalizedRows(features.values, width: d), rows: n)
        let rowOf = Dictionary(uniqueKeysWithValues: features.ids.enumerated().map { ($1, $0) })
        var centres: [Float]? = nil
        if let q = args.object("query", as: QueryObject.self) {
            guard q.pool === pool else { throw args.error("query", "the query is from another pool") }
            queried = q.ids
            if let (_, context, selection, _) = q.source, context.rows == n { centres = selection.centres }
        }
        // Colours: one group per class or quartile, for the samples that are neither labelled nor queried.
        let k = pool.pool.classes
        func zeroShotProbabilities() throws -> [Float] {
            try Bindings.engineCall {
                try Classifier.zeroShot(model: model.model, classNames: pool.pool.classNames, templates: [pool.pool.template]).probabilities(features.values)
            }
        }
        let colour: [Int], names: [String]
        switch args.string("color") {
        case "uncertainty":
            let probabilities = try zeroShotProbabilities()
            let h = (0..<n).map { i in Uncertainty.entropy(probabilities[(i * k)..<((i + 1) * k)].map(Double.init)) }
            let sorted = h.sorted()
            let cuts = [0.25, 0.5, 0.75].map { sorted[min(n - 1, Int($0 * Double(n)))] }
            colour = h.map { v in cuts.filter { v >= $0 }.count }
            names = ["entropy, lowest quarter", "second quarter", "third quarter", "highest quarter"]
        case "true":
            let truth = try Bindings.engineCall { try SimulatedOracle().labels(for: features.ids, pool: pool.pool) }
            colour = features.ids.map { truth[$0] ?? 0 }
            names = pool.pool.classNames
        default:
            let probabilities = try zeroShotProbabilities()
            colour = (0..<n).map { i in Uncertainty.argmax(probabilities[(i * k)..<((i + 1) * k)].map(Double.init)[...]) }
            names = pool.pool.classNames.map { "predicted \($0)" }
        }
        var groups: [PointGroup] = []
        for g in names.indices {
            let rows = (0..<n).filter { colour[$0] == g }
            if !rows.isEmpty { groups.append(PointGroup(title: names[g], x: rows.map { x[$0] }, y: rows.map { y[$0] })) }
        }
        func group(_ title: String, _ ids: [Int], _ marker: PointGroup.Marker) {
            let rows = ids.compactMap { rowOf[$0] }
            if !rows.isEmpty { groups.append(PointGroup(title: title, x: rows.map { x[$0] }, y: rows.map { y[$0] }, marker: marker)) }
        }
        // The marked samples keep their colour underneath (drawn in their class group too), with a marker on top.
        group("labelled (\(labelled.count))", labelled, .ring)
        group("query (\(queried.count))", queried, .cross)
        if let centres, centres.count % d == 0 {
            let (cx, cy) = projection.project(centres, rows: centres.count / d)
            groups.append(PointGroup(title: "cluster centres (\(cx.count))", x: cx, y: cy, marker: .triangle))
        }
        let title = "map of \(pool.pool.name)" + (args.has("round") ? ", round \(args.int("round"))" : "") + " (PCA of the image features)"
        return .scatter(title: title, xlabel: String(format: "PC1 (%.0f%% of the variance)", 100 * projection.variances[0] / projection.totalVariance),
                        ylabel: String(format: "PC2 (%.0f%% of the variance)", 100 * projection.variances[1] / projection.totalVariance), groups: groups)
    }
}
