import AlvlmActive
import AlvlmEngine
import AlvlmLanguage
import Foundation

/// The strategies in the language: the baselines, CEC with its named parameters, PCB's balancer, and the
/// strategy, scores and query types.
extension Bindings {
    /// A strategy's own name in tables, plots and lookups (`cec(beta: 0, name: "cec β=0")`).
    static let nameParameter = Parameter("name", .oneOf([.string, .nilValue]), default: .null, "its name in comparisons, tables and plots (default: built from its settings)")

    static func displayName(_ args: Arguments) throws -> String? {
        guard args.has("name") else { return nil }
        let name = args.string("name").trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, !name.contains("\n") else { throw args.error("name", "a name must be a non-empty single line") }
        return name
    }

    static func registerStrategies(_ r: Registry) {
        r.group = .strategies
        let simple: [(String, String, String)] = [
            ("random", "random", "uniform sampling without replacement"),
            ("entropy", "entropy", "highest predictive entropy (Wang & Shang 2014)"),
            ("margin", "margin", "smallest gap between the two most probable classes"),
            ("least_confidence", "least-confidence", "lowest top-class probability"),
            ("coreset", "coreset", "k-center greedy on image features (Sener & Savarese 2018)"),
            ("badge", "badge", "k-means++ on gradient embeddings (Ash et al. 2020)"),
            ("alfa_mix", "alfa-mix", "feature mixing with closed-form alpha (Parvaneh et al. 2022)"),
            ("core_gcn", "core-gcn", "k-center on GCN features (Caramalau et al. 2021)"),
            ("uncertain_gcn", "uncertain-gcn", "GCN labelled-vs-unlabelled score near 0.1 (Caramalau et al. 2021)"),
        ]
        for (builtin, name, summary) in simple {
            r.register(Builtin(builtin, [nameParameter], summary: "strategy: \(summary)") { args, _ in
                var s = StrategySpec(name: name)
                s.displayName = try displayName(args)
                return .object(StrategyObject(s))
            })
        }
        r.register(Builtin("cec", [
            Parameter("k", .integer, default: .number(10), "nearest unlabelled neighbours"),
            Parameter("N", .integer, default: .number(10), "per-class support size for the prior"),
            Parameter("rho", .number, default: .number(1), "RBF kernel width"),
            Parameter("beta", .number, default: .number(1), "weight of the neighbour term"),
            Parameter("prior", .choice(["union", "per-class"]), default: .string("union")),
            Parameter("kernel", .choice(["rbf", "cosine", "uniform"]), default: .string("rbf")),
            Parameter("calibrate", .bool, default: .bool(true), "divide out the contextualised prior"),
            Parameter("clustering", .choice(["weighted", "unweighted-nearest", "unweighted-most-uncertain"]), default: .string("weighted")),
            nameParameter,
        ], summary: "strategy: Calibrated Entropy-weighted Clustering (Safaei & Patel, WACV 2025)",
           details: "U = calibrated entropy + beta * mean kernel-weighted calibrated entropy of the k nearest unlabelled neighbours;\n" +
               "then k-means weighted by U with one cluster per query, and the sample nearest each centre.") { args, _ in
            var s = StrategySpec(name: "cec")
            s.neighbours = args.int("k"); s.support = args.int("N"); s.rho = args.number("rho"); s.beta = args.number("beta")
            s.prior = args.string("prior"); s.kernel = args.string("kernel"); s.calibrate = args.bool("calibrate"); s.clustering = args.string("clustering")
            guard s.neighbours >= 1 else { throw args.error("k", "k must be at least 1") }
            guard s.support >= 1 else { throw args.error("N", "N must be at least 1") }
            guard s.rho >= 0, s.beta >= 0 else { throw args.error(s.rho < 0 ? "rho" : "beta", "rho and beta must not be negative") }
            s.displayName = try displayName(args)
            return .object(StrategyObject(s))
        })
        r.register(Builtin("pcb", [strategyParameter], summary: "wrap a strategy in PCB's class balancer (Bang et al. 2024)") { args, _ in
            var s = args.object("strategy", as: StrategyObject.self)!.spec
            s.pcb = true
            return .object(StrategyObject(s))
        })
        r.register(type: "strategy", summary: "an active-learning query strategy", [
            .method("scores", [poolParameter, modelParameter,
                               Parameter("kind", .choice(["u", "entropy", "calibrated", "neighbour"]), default: .string("u"),
                                         "for cec: U, the raw entropy H, the calibrated entropy Ĥ, or the neighbour term H_nn")],
                    "per-sample scores on the training pool (zero-shot model), for hist()") { o, args, interp in
                let (context, ids, _) = try selection(args, interp)
                let s = (o as! StrategyObject).spec
                let lnC = log(Double(context.classes))
                let kind = args.string("kind")
                let (values, range): ([Double], (Double, Double)?) = try engine {
                    let strategy = try s.make()
                    if let cec = strategy as? CECStrategy {
                        let c = try cec.computeScores(context)
                        switch kind {
                        case "entropy": return (c.entropy, (0, lnC))
                        case "calibrated": return (c.calibratedEntropy, (0, lnC))
                        case "neighbour": return (c.neighbourUncertainty, (0, lnC))
                        default: return (c.uncertainty, (0, (1 + cec.beta) * lnC))
                        }
                    }
                    if kind != "u" { return (context.unlabeled.map { Uncertainty.entropy(context.probabilityRow($0)) }, (0, lnC)) }
                    if let v = try strategy.scores(context) { return (v, nil) }
                    return (context.unlabeled.map { Uncertainty.entropy(context.probabilityRow($0)) }, (0, lnC))
                }
                return .object(ScoresObject(name: kind == "u" ? s.label : "\(s.label) \(kind)", values: values, ids: ids, range: range))
            },
            .method("query", [poolParameter, modelParameter, Parameter("budget", .countOrPercent, default: .percent(1), "a count or a percentage of the pool"),
                              Parameter("seed", .integer, default: .number(0))],
                    "the samples the strategy would label next (zero-shot model)") { o, args, interp in
                let (context, ids, poolObject) = try selection(args, interp)
                let s = (o as! StrategyObject).spec
                let n = try engine { try budget(args["budget"]).resolve(poolSize: ids.count) }
                var rng = SeededRandom(seed: UInt64(bitPattern: Int64(args.int("seed"))))
                let selection = try engine { try s.make().select(context, budget: n, rng: &rng, cancel: WatchingToken(host: interp.host)) }
                let guesses = selection.rows.map { row -> [(label: Int, probability: Double)] in
                    let p = Array(context.probabilityRow(row))
                    return p.indices.sorted { p[$0] > p[$1] }.prefix(3).map { ($0, p[$0]) }
                }
                return .object(QueryObject(pool: poolObject, strategy: s.label, ids: selection.rows.map { ids[$0] }, scores: selection.scores,
                                           predicted: selection.rows.map { Uncertainty.argmax(context.probabilityRow($0)) }, guesses: guesses,
                                           note: selection.note))
            },
        ])
        r.register(type: "scores", summary: "per-sample scores", [
            .property("values", "the scores") { .list(($0 as! ScoresObject).values.map { .number($0) }) },
            .property("ids", "the sample ids") { .list(($0 as! ScoresObject).ids.map { .number(Double($0)) }) },
        ])
        r.register(type: "query", summary: "samples chosen for labelling", [
            .property("ids", "the chosen sample ids") { .list(($0 as! QueryObject).ids.map { .number(Double($0)) }) },
            .property("scores", "the score that chose each") { .list(($0 as! QueryObject).scores.map { $0.isFinite ? .number($0) : .null }) },
            .property("paths", "their image files") { o in let q = o as! QueryObject; return .list(q.ids.map { .string(q.pool.pool.sample($0)?.path ?? "") }) },
            .property("predicted", "the model's predicted class for each (nil when unknown)") { o in
                let q = o as! QueryObject
                return .list(q.predicted.map { $0.map { .string(q.pool.pool.classNames[$0]) } ?? .null })
            },
            .property("note", "how the batch was chosen when it was not by the strategy's scores (e.g. a fallback to random), else nil") { o in
                (o as! QueryObject).note.map { .string($0) } ?? .null
            },
        ])
    }

    /// The selection context of a pool's training split under the zero-shot model.
    static func selection(_ args: Arguments, _ interp: Interpreter) throws -> (SelectionContext, [Int], PoolObject) {
        let pool = args.object("pool", as: PoolObject.self)!, model = args.object("model", as: ModelObject.self)!
        let f = try engine { try pool.features(.train, model: model, host: interp.host) }
        let context = try engine {
            let classifier = try Classifier.zeroShot(model: model.model, classNames: pool.pool.classNames, templates: [pool.pool.template])
            return try SelectionContext(features: f.values, width: f.width, unlabeled: Array(0..<f.ids.count), labeled: [:], classifier: classifier)
        }
        return (context, f.ids, pool)
    }
}
