import AlvlmActive
import AlvlmEngine
import AlvlmLanguage
import Foundation

/// The strategies in the language: the baselines, CEC with its named parameters, PCB's balancer, and the
/// strategy, scores and query types.
extension Bindings {
    /// A strategy's own name in tables, plots and lookups (`cec(beta: 0, name: "cec β=0")`).
    static let nameParameter = Parameter("name", .oneOf([.string, .nilValue]), default: .null, "its name in comparisons, tables and plots (default: built from its settings)")

    /// A strategy parameter as the language declares it: its kind, the table's default, its help.
    static func languageParameter(_ p: StrategyParameter) -> Parameter {
        let d = p.defaultValue
        switch (p.kind, d) {
        case (.integer, .integer(let v)): return Parameter(p.name, .integer, default: .number(Double(v)), p.help)
        case (.number, .number(let v)): return Parameter(p.name, .number, default: .number(v), p.help)
        case (.choice(let options), .string(let v)): return Parameter(p.name, .choice(options), default: .string(v), p.help)
        case (.flag, .bool(let v)): return Parameter(p.name, .bool, default: .bool(v), p.help)
        default: preconditionFailure("strategy parameter \(p.name): its default does not match its kind")
        }
    }

    static func displayName(_ args: Arguments) throws -> String? {
        guard args.has("name") else { return nil }
        let name = args.string("name").trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, !name.contains("\n") else { throw args.error("name", "a name must be a non-empty single line") }
        return name
    }

    static func registerStrategies(_ r: Registry) {
        r.group = .strategies
        // One builtin per row of the strategy table, its parameters as the table declares them.
        for entry in Strategies.table {
            r.register(Builtin(entry.builtin, entry.parameters.map(languageParameter) + [nameParameter], summary: "strategy: \(entry.summary)",
                               details: entry.details) { args, _ in
                var s = StrategySpec(name: entry.name)
                for p in entry.parameters {
                    let given: StrategyParameter.Value
                    switch p.kind {
                    case .integer: given = .integer(args.int(p.name))
                    case .number: given = .number(args.number(p.name))
                    case .choice: given = .string(args.string(p.name))
                    case .flag: given = .bool(args.bool(p.name))
                    }
                    do { try p.set(given, in: &s) } catch let e as EngineError { throw args.error(p.name, e.message) }
                }
                s.displayName = try displayName(args)
                return .object(StrategyObject(s))
            })
        }
        // The balancing wrappers, one per kind: pcb(s), per_class(s), tail_first(s).
        let balanceSummaries: [Balance: String] = [
            .pcb: "wrap a strategy in PCB's class balancer: the class with the fewest labels gets a random candidate predicted as it (Bang et al., CVPR 2024)",
            .perClass: "wrap a strategy: rank its candidates within each predicted class and take from each class in turn (dual-prompt AL, arXiv 2602.04340)",
            .tailFirst: "wrap a strategy: the least-labelled classes first, each with its best-ranked candidate (ALOR, arXiv 2506.01724)",
        ]
        for balance in Balance.allCases {
            r.register(Builtin(balance.builtin, [strategyParameter], summary: balanceSummaries[balance]!,
                               details: "Candidates: the strategy's ranking by its scores, or (without scores) its own pick of 10% of the pool.\n" +
                                   "Classes are the current model's predictions; labels counted are the oracle's.") { args, _ in
                var s = args.object("strategy", as: StrategyObject.self)!.spec
                guard s.wrapper == nil else { throw args.error("strategy", "\(s.label) is already balanced; wrap the strategy itself") }
                s.balance = balance
                return .object(StrategyObject(s))
            })
        }
        r.register(StrategyObject.self, summary: "an active-learning query strategy", [
            .method("scores", [poolParameter, modelParameter,
                               Parameter("kind", .choice(["u", "entropy", "calibrated", "neighbour"]), default: .string("u"),
                                         "for cec: U, the raw entropy H, the calibrated entropy Ĥ, or the neighbour term H_nn"),
                               storageParameter],
                    "per-sample scores on the training pool (zero-shot model), for hist()") { o, args, interp in
                let (context, ids, _) = try selection(args, interp)
                let s = o.spec
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
                              Parameter("seed", .integer, default: .number(0)), storageParameter],
                    "the samples the strategy would label next (zero-shot model)") { o, args, interp in
                let (context, ids, poolObject) = try selection(args, interp)
                let s = o.spec
                let n = try engine { try budget(args["budget"]).resolve(poolSize: ids.count) }
                var rng = SeededRandom(seed: UInt64(bitPattern: Int64(args.int("seed"))))
                let selection = try engine { try s.make().select(context, budget: n, rng: &rng, cancel: WatchingToken(host: interp.host)) }
                let guesses = selection.rows.map { row -> [(label: Int, probability: Double)] in
                    let p = Array(context.probabilityRow(row))
                    return p.indices.sorted { p[$0] > p[$1] }.prefix(3).map { ($0, p[$0]) }
                }
                let q = QueryObject(pool: poolObject, strategy: s.label, ids: selection.rows.map { ids[$0] }, scores: selection.scores,
                                    predicted: selection.rows.map { Uncertainty.argmax(context.probabilityRow($0)) }, guesses: guesses,
                                    note: selection.note)
                q.source = (s, context, selection, ids)
                return .object(q)
            },
        ])
        r.group = .strategies
        r.register(Builtin("explain", [Parameter("query", .instance(QueryObject.self), "a batch from s.query(...) or run.query()"),
                                       Parameter("i", .integer, default: .number(0), "which sample of the batch (0 is the first)")],
                           summary: "why a sample was picked: its scores and their standing in the pool, its neighbours, its cluster, the class prior",
                           details: "Prints the explanation and returns it as a record (id, scores, percentiles, neighbours, cluster, prior, sentence).\n" +
                               "Every number is recomputed from what the selection saw, with the strategy's own code.") { args, interp in
            let q = args.object("query", as: QueryObject.self)!
            guard let (spec, context, selection, ids) = q.source else {
                throw args.error("query", "this batch does not keep what chose it (imported answers have no strategy behind them)")
            }
            let e = try engine { try Explanation(spec: spec, context: context, selection: selection, ids: ids, position: args.int("i")) }
            let names = q.pool.pool.classNames
            interp.host.print(e.text(classNames: names))
            return explanationRecord(e, classNames: names)
        })
        r.register(ScoresObject.self, summary: "per-sample scores", [
            .property("values", "the scores") { .list($0.values.map { .number($0) }) },
            .property("ids", "the sample ids") { .list($0.ids.map { .number(Double($0)) }) },
        ])
        r.register(QueryObject.self, summary: "samples chosen for labelling", [
            .property("ids", "the chosen sample ids") { .list($0.ids.map { .number(Double($0)) }) },
            .property("scores", "the score that chose each") { .list($0.scores.map { $0.isFinite ? .number($0) : .null }) },
            .property("paths", "their image files") { q in .list(q.ids.map { .string(q.pool.pool.sample($0)?.path ?? "") }) },
            .property("predicted", "the model's predicted class for each (nil when unknown)") { q in
                return .list(q.predicted.map { $0.map { .string(q.pool.pool.classNames[$0]) } ?? .null })
            },
            .property("note", "how the batch was chosen when it was not by the strategy's scores (e.g. a fallback to random), else nil") { o in
                o.note.map { .string($0) } ?? .null
            },
        ])
    }

    /// An explanation as a language record: numbers by name, so notebooks can test and plot them.
    static func explanationRecord(_ e: Explanation, classNames: [String]) -> Value {
        var fields: [(String, Value)] = [("id", .number(Double(e.id))), ("strategy", .string(e.strategy)),
                                         ("predicted", .string(classNames[e.predicted])), ("probability", .number(e.probability))]
        fields.append(("scores", .record(e.scores.map { ($0.name, .number($0.value)) })))
        fields.append(("percentiles", .record(e.scores.map { ($0.name, .number($0.percentile)) })))
        fields.append(("neighbours", .list(e.neighbours.map { .record([("id", .number(Double($0.id))), ("similarity", .number($0.similarity)), ("score", .number($0.score))]) })))
        if let c = e.cluster {
            fields.append(("cluster", .record([("index", .number(Double(c.index))), ("size", .number(Double(c.size))),
                                               ("share", .number(c.uncertaintyShare)), ("distance", .number(c.distance)), ("rank", .number(Double(c.rank)))])))
        }
        if let prior = e.prior { fields.append(("prior", .list(prior.map { .number($0) }))) }
        fields.append(("sentence", .string(e.sentence)))
        return .record(fields)
    }

    static let storageParameter = Parameter("features", .choice(["float32", "float16"]), default: .string("float32"),
                                            "the pool's features as float32, or rounded to float16 as a half-precision .npy holds them")

    /// The selection context of a pool's training split under the zero-shot model.
    static func selection(_ args: Arguments, _ interp: Interpreter) throws -> (SelectionContext, [Int], PoolObject) {
        let pool = args.object("pool", as: PoolObject.self)!, model = args.object("model", as: ModelObject.self)!
        let f = try engine { try pool.features(.train, model: model, host: interp.host) }
        let context = try engine {
            let classifier = try Classifier.zeroShot(model: model.model, classNames: pool.pool.classNames, templates: [pool.pool.template])
            let rows = args.string("features") == "float16" ? try FeatureRows.halves(of: f.values, width: f.width) : try FeatureRows(f.values, width: f.width)
            return try SelectionContext(rows: rows, unlabeled: Array(0..<f.ids.count), labeled: [:], classifier: classifier)
        }
        return (context, f.ids, pool)
    }
}
