import AlvlmActive
import AlvlmEngine
import ArgumentParser
import Foundation

/// Options shared by `select` and `bench select`: the strategy and its parameters from the strategy table
/// (`--param NAME=VALUE`; CEC's also as `--k`, `--N`, `--rho`, `--beta`, `--prior`, `--kernel`, `--clustering`,
/// `--no-calibration`, spellings kept from earlier releases).
struct StrategyOptions: ParsableArguments {
    static func cec(_ name: String) -> String {
        guard let p = (try? Strategies.entry("cec"))?.parameter(name) else { return "CEC" }
        return "CEC: \(p.help) (default \(p.defaultValue))."
    }

    @Option(name: .long, help: "Strategy: \(Strategies.names.joined(separator: ", ")).") var strategy: String
    @Flag(name: .long, help: "Wrap the strategy in PCB's class balancer (--balance pcb).") var pcb = false
    @Option(name: .long, help: "Balance the picks over predicted classes: \(Balance.allCases.map(\.rawValue).joined(separator: ", ")).")
    var balance: String?
    @Option(name: .customLong("param"), help: "A strategy parameter NAME=VALUE (repeatable; the list is below).")
    var parameters: [String] = []
    @Option(name: .customLong("k"), help: ArgumentHelp(cec("k"))) var k: Int?
    @Option(name: .customLong("N"), help: ArgumentHelp(cec("N"))) var n: Int?
    @Option(name: .long, help: ArgumentHelp(cec("rho"))) var rho: Double?
    @Option(name: .long, help: ArgumentHelp(cec("beta"))) var beta: Double?
    @Option(name: .long, help: ArgumentHelp(cec("prior"))) var prior: String?
    @Option(name: .long, help: ArgumentHelp(cec("kernel"))) var kernel: String?
    @Flag(name: .customLong("no-calibration"), help: "CEC ablation: raw probabilities instead of calibrated ones (--param calibrate=false).") var noCalibration = false
    @Option(name: .long, help: ArgumentHelp(cec("clustering"))) var clustering: String?

    /// The strategies and their parameters, for the commands' help (from the strategy table).
    static var catalogue: String {
        "Strategies and their --param NAME=VALUE (defaults shown):\n" + Strategies.table.map { e in
            "  \(e.name): \(e.summary)" + e.parameters.map { "\n      \($0.name)=\($0.defaultValue)  \($0.help)" }.joined()
        }.joined(separator: "\n")
    }

    /// The spec: the given parameters set through the table (each checked; CEC's own flags only for cec).
    func spec() throws -> StrategySpec {
        let entry = try Strategies.entry(strategy)
        var s = StrategySpec(name: strategy)
        if let balance {
            guard let b = Balance(rawValue: balance) else {
                throw EngineError(.argument, "--balance must be one of \(Balance.allCases.map(\.rawValue).joined(separator: ", ")), not \(balance)")
            }
            guard !pcb || b == .pcb else { throw EngineError(.argument, "give --pcb or --balance, not both") }
            s.balance = b
        } else if pcb {
            s.balance = .pcb
        }
        var given: [(String, String)] = []
        let legacy: [(String, String?)] = [("k", k.map(String.init)), ("N", n.map(String.init)), ("rho", rho.map { "\($0)" }), ("beta", beta.map { "\($0)" }),
                                           ("prior", prior), ("kernel", kernel), ("clustering", clustering), ("calibrate", noCalibration ? "false" : nil)]
        for case let (name, value?) in legacy {
            guard entry.name == "cec" else { throw EngineError(.argument, "--\(name == "calibrate" ? "no-calibration" : name) is a CEC parameter; \(entry.name) does not take it") }
            given.append((name, value))
        }
        for item in parameters {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else { throw EngineError(.argument, "--param takes NAME=VALUE, not \(item)") }
            given.append((String(item[..<eq]), String(item[item.index(after: eq)...])))
        }
        for (name, text) in given {
            guard let p = entry.parameter(name) else {
                let known = entry.parameters.map(\.name)
                throw EngineError(.argument, "\(entry.name) has no parameter \(name)" + (known.isEmpty ? "" : " (it has: \(known.joined(separator: ", ")))"))
            }
            try p.set(try p.parse(text), in: &s)
        }
        return s
    }
}

struct Select: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Choose which samples to label next; prints the selected ids (feature rows), one per line.",
        discussion: StrategyOptions.catalogue)

    @OptionGroup var options: StrategyOptions
    @Option(name: .long, help: "Pool image features (N, D) .npy, float32 or float16; row i is sample id i; any scale.") var features: String
    @Option(name: .long, help: ArgumentHelp("How the features are held: \(storageHelp).", valueName: "float32|float16|mapped"))
    var storage: FeatureStorage = .float32
    @Option(name: .long, help: "Class text features (C, D) .npy.") var text: String
    @Option(name: .long, help: "Labelled sample ids, one per line.") var labeled: String?
    @Option(name: .long, help: "Their labels, one 0-based class per line (needed by alfa-mix and --pcb).") var labels: String?
    @Option(name: .long, help: "How many samples to select.") var budget: Int
    @Option(name: .long) var seed: UInt64 = 0
    @Option(name: .long, help: "Logit scale exp(logit_scale).") var scale: Float = 100
    @Option(name: .long, help: "Instead of the ids: why this selected id was picked (its scores and their standing, neighbours, cluster, prior).")
    var explain: Int?
    @Option(name: .customLong("scores-out"), help: "Per-sample scores .npy: (N, 3) H, Ĥ, U for cec, (N, 1) otherwise; NaN for labelled rows.") var scoresOut: String?

    func run() throws {
        try reportingErrors {
            let rows = try FeatureRows.load(features, storage: storage), t = try NPY.read(text)
            guard t.shape.count == 2, t.shape[1] == rows.width else {
                throw EngineError(.format, "--text has shape \(t.shape); (C, \(rows.width)) expected to match --features", path: text)
            }
            guard scale.isFinite, scale > 0 else { throw EngineError(.argument, "--scale must be a positive number (exp of the logit scale, 100 for CLIP)") }
            let n = rows.rows, c = t.shape[0]
            guard n > 0 else { throw EngineError(.format, "--features has no rows", path: features) }
            var labeledMap: [Int: Int] = [:]
            if let labeled {
                let ids = try readLines(labeled, what: "labelled ids").enumerated().map { i, line -> Int in
                    guard let v = Int(line.trimmingCharacters(in: .whitespaces)), v >= 0, v < n else {
                        throw EngineError(.format, "line \(i + 1): \"\(line)\" is not a sample id in 0..<\(n)", path: labeled)
                    }
                    return v
                }
                if let dup = Dictionary(grouping: ids, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
                    throw EngineError(.format, "id \(dup) is listed twice", path: labeled)
                }
                let classes = try labels.map { try readLabels($0, count: ids.count, classes: c) }
                let balanced = options.pcb || options.balance != nil
                if classes == nil, balanced || options.strategy == "alfa-mix" {
                    throw EngineError(.argument, "--labels is needed with --labeled for \(balanced ? "a balanced strategy (--pcb, --balance)" : "alfa-mix")")
                }
                for (i, id) in ids.enumerated() { labeledMap[id] = classes?[i] ?? 0 }
            } else if labels != nil {
                throw EngineError(.argument, "--labels needs --labeled")
            }
            let unlabeled = (0..<n).filter { labeledMap[$0] == nil }
            guard budget >= 1, budget <= unlabeled.count else {
                throw EngineError(.argument, "--budget \(budget) must be between 1 and the \(unlabeled.count) unlabelled samples")
            }
            let classifier = Classifier(classNames: (0..<c).map { "class \($0)" }, textFeatures: t.floats(), logitScale: log(scale))
            let context: SelectionContext
            do {
                context = try SelectionContext(rows: consume rows, unlabeled: unlabeled, labeled: labeledMap, classifier: classifier)
            } catch let error as EngineError where error.kind == .numeric {
                throw EngineError(.numeric, "--features: \(error.message)", path: features)   // a row holding NaN or infinity
            }
            let strategy = try options.spec().make()
            if let cec = strategy as? CECStrategy, cec.neighbours >= unlabeled.count {
                throw EngineError(.argument, "--k \(cec.neighbours) must be smaller than the \(unlabeled.count) unlabelled samples")
            }
            var rng = SeededRandom(seed: seed)
            let selection = try strategy.select(context, budget: budget, rng: &rng, cancel: selectionToken())
            if let note = selection.note { warn(note) }
            if let scoresOut {
                if let cec = strategy as? CECStrategy {
                    let s = try cec.computeScores(context)
                    var out = [Float](repeating: .nan, count: n * 3)
                    for (i, row) in unlabeled.enumerated() {
                        out[row * 3] = Float(s.entropy[i]); out[row * 3 + 1] = Float(s.calibratedEntropy[i]); out[row * 3 + 2] = Float(s.uncertainty[i])
                    }
                    try NPY.write(out, shape: [n, 3], to: scoresOut)
                } else {
                    var out = [Float](repeating: .nan, count: n)
                    if let s = try strategy.scores(context) { for (i, row) in unlabeled.enumerated() { out[row] = Float(s[i]) } }
                    try NPY.write(out, shape: [n, 1], to: scoresOut)
                }
            }
            if let explain {
                guard let position = selection.rows.firstIndex(of: explain) else {
                    throw EngineError(.argument, "--explain \(explain) is not in this selection (\(selection.rows.map(String.init).joined(separator: " ")))")
                }
                let e = try Explanation(spec: try options.spec(), context: context, selection: selection, ids: Array(0..<n), position: position)
                print(e.text(classNames: classifier.classNames))
                return
            }
            FileHandle.standardOutput.write(Data(selection.rows.map { "\($0)\n" }.joined().utf8))
        }
    }
}

extension FeatureStorage: ExpressibleByArgument {}

let storageHelp = FeatureStorage.allCases.map { "\($0.rawValue), \($0.summary)" }.joined(separator: "; ")

/// Ctrl-C stops a selection between its steps; on a terminal, its long phases say what they are doing on stderr.
func selectionToken() -> InterruptToken {
    let token = InterruptToken()
    installInterruptHandler()
    if isatty(2) != 0 {
        let start = DispatchTime.now()
        token.onProgress { message in
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            FileHandle.standardError.write(Data((String(format: "[%7.1f s] ", seconds) + message + "\n").utf8))
        }
    }
    return token
}

/// How far scores `a` moved from `reference`: the largest and mean absolute difference, and the largest relative to
/// the reference's largest magnitude.
func scoreDifference(_ a: [Double], _ reference: [Double]) -> [String: Double] {
    let diffs = zip(a, reference).map { abs($0 - $1) }, largest = diffs.max() ?? 0
    return ["max_abs": largest, "mean_abs": diffs.reduce(0, +) / Double(max(1, diffs.count)),
            "max_relative_to_largest": largest / max(reference.map(abs).max() ?? 1, .leastNonzeroMagnitude)]
}

struct BenchSelect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select",
        abstract: "Time a selection on a random clustered pool; one JSON line with seconds and peak memory.")

    @OptionGroup var options: StrategyOptions
    @Option(name: .long) var pool = 20_000
    @Option(name: .long) var dim = 512
    @Option(name: .long) var classes = 100
    @Option(name: .long) var budget = 200
    @Option(name: .long) var seed: UInt64 = 0
    @Option(name: .long, help: "Use this pool (N, D) instead of a random one (e.g. one saved by Scripts/bench_select_reference.py --save-pool).") var features: String?
    @Option(name: .long, help: "Class text features (C, D) for --features.") var text: String?
    @Option(name: .long, help: ArgumentHelp("How the timed selection holds the pool: \(storageHelp) (mapped needs --features).", valueName: "float32|float16|mapped"))
    var storage: FeatureStorage = .float32
    @Flag(name: .long, help: "Hold the pool's features as float16 (--storage float16) and report what that changes: CEC's scores and the chosen rows against the float32 pool's (which is kept for this, so memory holds the pool one and a half times).") var float16 = false
    @Flag(name: .long, help: "CEC: also compute the scores with exact neighbours and report how far the chosen search moved them; with k-means|| seeding or local assignment, also cluster as scikit-learn does (greedy k-means++, exact Lloyd) and report the cost ratio.") var compareExact = false

    func run() throws {
        try reportingErrors {
            var rng = SeededRandom(seed: seed)
            var pool = self.pool, dim = self.dim, classes = self.classes
            guard !float16 || storage != .mapped else { throw EngineError(.argument, "--float16 holds the pool as float16; it cannot be combined with --storage mapped") }
            var rows: FeatureRows, text: [Float]
            if let features, let textPath = self.text {
                // The pool's only reference is `rows`, so the selection normalises float32 rows in place.
                rows = try FeatureRows.load(features, storage: float16 ? .float32 : storage)
                let t = try NPY.read(textPath)
                guard t.shape.count == 2, rows.width == t.shape[1] else {
                    throw EngineError(.format, "--features (N, D) and --text (C, D) must share D")
                }
                (pool, dim, classes) = (rows.rows, rows.width, t.shape[0])
                text = t.floats()
            } else {
                guard pool > 1, dim > 0, classes > 1 else { throw EngineError(.argument, "--pool, --dim and --classes must be positive") }
                guard storage != .mapped else { throw EngineError(.argument, "--storage mapped maps a --features file; a random pool lives in memory") }
                let centres = rng.normals(classes * dim, std: 1)
                var x = [Float](repeating: 0, count: pool * dim)
                for i in 0..<pool {
                    let c = Int(rng.next() % UInt64(classes))
                    for j in 0..<dim { x[i * dim + j] = centres[c * dim + j] + Float(rng.normal()) }
                }
                text = centres.map { $0 + Float(rng.normal() * 0.5) }
                rows = try FeatureRows(consume x, width: dim)
            }
            guard budget >= 1, budget <= pool else { throw EngineError(.argument, "--budget must be in 1...\(pool)") }
            let classifier = Classifier(classNames: (0..<classes).map { "c\($0)" }, textFeatures: text, logitScale: log(100))
            // --float16: the float32 pool is kept aside and the timed selection runs on its float16 rounding.
            let full = float16 ? rows.floats : nil
            if let full { rows = try FeatureRows.halves(of: full, width: dim) }
            else if storage == .float16, rows.storage.kind == .float32 { rows = try FeatureRows.halves(of: rows.floats, width: dim) }
            let held = rows.storage
            let t0 = DispatchTime.now()
            let context = try SelectionContext(rows: consume rows, unlabeled: Array(0..<pool), labeled: [:], classifier: classifier)
            let t1 = DispatchTime.now()
            let start = rng
            let selection = try options.spec().make().select(context, budget: budget, rng: &rng, cancel: selectionToken())
            let t2 = DispatchTime.now()
            func s(_ a: DispatchTime, _ b: DispatchTime) -> Double { Double(b.uptimeNanoseconds - a.uptimeNanoseconds) / 1e9 }
            var result: [String: Any] = [
                "bench": "select", "strategy": try options.spec().label, "pool": pool, "dim": dim, "classes": classes, "budget": budget,
                "seconds": s(t0, t2), "phases": ["probabilities": s(t0, t1), "select": s(t1, t2)],
                "selected": selection.rows.count, "peak_rss_mb": peakMemoryMB(),
                "features": ["storage": held.kind.rawValue, "held_mb": Double(held.bytes) / 1e6],
            ]
            if let now = residentMemoryMB() { result["rss_after_mb"] = ["anonymous": now.anonymous, "mapped_files": now.files] }
            if !selection.phases.isEmpty {
                result["phases"] = ["probabilities": s(t0, t1)].merging(selection.phases.map { ($0.name, $0.seconds) }) { a, _ in a }
            }
            if let c = selection.clustering {
                result["kmeans"] = ["seeding": c.seeding.rawValue, "assignment": c.assignment.rawValue, "iterations": c.iterations, "weighted_cost": c.cost]
            }
            if let r = selection.neighbourSearch {
                result["knn"] = ["method": "ivf", "lists": r.lists, "probes": r.probes, "recall_at_k": r.recall, "sampled_queries": r.sampledQueries]
            }
            if let full {
                // The float32 pool through the same selection from the same random state.
                let reference = try SelectionContext(features: full, width: dim, unlabeled: Array(0..<pool), labeled: [:], classifier: classifier)
                var again = start
                let chosen = try options.spec().make().select(reference, budget: budget, rng: &again, cancel: selectionToken())
                var report: [String: Any] = ["selected_overlap": Double(Set(chosen.rows).intersection(selection.rows).count) / Double(budget)]
                if let cec = try options.spec().make() as? CECStrategy {
                    let (a, b) = (try cec.computeScores(context).uncertainty, try cec.computeScores(reference).uncertainty)
                    report["score_difference"] = scoreDifference(a, b)
                }
                result["float16"] = report
            }
            if compareExact, let cec = try options.spec().make() as? CECStrategy {
                var exact = cec
                exact.search = .exact
                let (a, b) = (try cec.computeScores(context).uncertainty, try exact.computeScores(context).uncertainty)
                result["score_difference"] = scoreDifference(a, b)
                // The same weights clustered as scikit-learn does (greedy k-means++, exact Lloyd steps): what the faster
                // seeding and assignment cost in the objective.
                if let c = selection.clustering, c.seeding != .greedy || c.assignment != .exact {
                    var reference = cec
                    reference.seeding = .greedy; reference.assignment = .exact
                    let start = DispatchTime.now()
                    let full = try reference.kmeans(clusters: budget, rows: pool).fit(context.featureRows.subset(context.unlabeled), weights: a, rng: &rng)
                    result["kmeans_full"] = ["iterations": full.iterations, "weighted_cost": full.cost, "seeding_seconds": full.seedingSeconds,
                                             "seconds": s(start, DispatchTime.now()), "cost_ratio": c.cost / full.cost]
                }
            }
            print(String(decoding: try JSONSerialization.data(withJSONObject: result.merging(blasReport()) { mine, _ in mine }, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}
