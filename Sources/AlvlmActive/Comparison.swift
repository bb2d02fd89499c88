import AlvlmEngine
import Foundation

/// Several strategies × seeds on one pool and model: the paper's Table 1 shape (mean ± sd per round),
/// area under the learning curve, labels needed to reach a target accuracy, and paired differences to Random.
public struct Comparison: Codable, Sendable {
    public struct Run: Codable, Sendable {
        public var strategy: String
        public var seed: UInt64
        public var rounds: [RoundRecord]
        public init(strategy: String, seed: UInt64, rounds: [RoundRecord]) { self.strategy = strategy; self.seed = seed; self.rounds = rounds }
    }
    public var runs: [Run]
    public var strategies: [String]
    public var seeds: [UInt64]
    public var masterSeed: UInt64
    /// Runs planned (strategies x seeds); more than `runs.count` when the comparison was interrupted and kept what
    /// it had finished (a partial comparison). nil in comparisons saved before this existed: complete.
    public var plannedRuns: Int?
    /// The zero-shot model's test accuracy, the level every curve starts from (nil in comparisons saved before).
    public var zeroShotAccuracy: Double?
    /// The training pool's size and the number of classes, so rounds read as labels, cumulative percent of the pool
    /// and labels per class (nil in comparisons saved before).
    public var poolSize: Int? = nil
    public var classes: Int? = nil

    public init(runs: [Run], strategies: [String], seeds: [UInt64], masterSeed: UInt64, plannedRuns: Int?, zeroShotAccuracy: Double?,
                poolSize: Int? = nil, classes: Int? = nil) {
        self.runs = runs; self.strategies = strategies; self.seeds = seeds; self.masterSeed = masterSeed; self.plannedRuns = plannedRuns
        self.zeroShotAccuracy = zeroShotAccuracy; self.poolSize = poolSize; self.classes = classes
    }

    public var isPartial: Bool { (plannedRuns ?? runs.count) > runs.count }

    /// Child seeds derived from the master seed (seed s of every strategy shares the same child seed, so runs pair up).
    public static func childSeeds(master: UInt64, count: Int) -> [UInt64] {
        (0..<count).map { i in var h = FNV64(); h.add(master); h.add(UInt64(i)); h.add("seed"); return h.value % 1_000_000_007 }
    }

    /// Distinct names for the strategies: two with the same label (cec with two values of k) get "#2", "#3".
    public static func labels(_ strategies: [StrategySpec]) -> [String] {
        var labels: [String] = []
        for spec in strategies {
            var label = spec.label, n = 2
            while labels.contains(label) { label = "\(spec.label) #\(n)"; n += 1 }
            labels.append(label)
        }
        return labels
    }

    /// One run of a comparison: a strategy under one child seed, with the zero-shot accuracy it starts from. Depends
    /// on nothing else, so runs can be computed in any order, process or machine (a sweep's tasks).
    public static func runOne(pool: Pool, model: CLIPModel, trainFeatures: PoolFeatures, testFeatures: PoolFeatures,
                              strategy spec: StrategySpec, seed: UInt64, rounds: Int, budget: Budget, trainer: TrainerSpec,
                              pseudo: PseudoLabelling? = nil, progress: ((String) -> Void)? = nil,
                              cancel: CancellationToken? = nil) throws -> (rounds: [RoundRecord], zeroShot: Double) {
        var config = ExperimentConfig(strategy: spec, rounds: rounds, budget: budget, trainer: trainer, seed: seed)
        config.pseudo = pseudo
        let e = try Experiment(pool: pool, model: model, trainFeatures: trainFeatures, testFeatures: testFeatures, config: config)
        let zeroShot = try e.zeroShotAccuracy()
        try e.finish(progress: progress, cancel: cancel)
        return (e.state.rounds, zeroShot)
    }

    public static func run(pool: Pool, model: CLIPModel, trainFeatures: PoolFeatures, testFeatures: PoolFeatures,
                           strategies: [StrategySpec], seeds count: Int, masterSeed: UInt64 = 0,
                           rounds: Int, budget: Budget, trainer: TrainerSpec, pseudo: PseudoLabelling? = nil,
                           progress: ((String) -> Void)? = nil, cancel: CancellationToken? = nil) throws -> Comparison {
        guard !strategies.isEmpty, count >= 1 else { throw EngineError(.argument, "a comparison needs strategies and at least one seed") }
        let seeds = childSeeds(master: masterSeed, count: count)
        let labels = Self.labels(strategies)
        var runs: [Run] = []
        var zeroShot: Double?
        // Cancelled (Ctrl-C): the runs finished so far are kept as a partial comparison; a run cut short is dropped.
        do {
            for (spec, label) in zip(strategies, labels) {
                for seed in seeds {
                    if cancel?.isCancelled == true { throw EngineError(.cancelled, "comparison cancelled after \(runs.count) runs") }
                    let run = try runOne(pool: pool, model: model, trainFeatures: trainFeatures, testFeatures: testFeatures, strategy: spec,
                                         seed: seed, rounds: rounds, budget: budget, trainer: trainer, pseudo: pseudo,
                                         progress: { progress?("\(label) seed \(seed): \($0)") }, cancel: cancel)
                    zeroShot = zeroShot ?? run.zeroShot
                    runs.append(Run(strategy: label, seed: seed, rounds: run.rounds))
                }
            }
        } catch let error as EngineError where error.kind == .cancelled && !runs.isEmpty {
            let done = labels.filter { label in runs.contains { $0.strategy == label } }
            return Comparison(runs: runs, strategies: done, seeds: seeds, masterSeed: masterSeed, plannedRuns: labels.count * seeds.count,
                              zeroShotAccuracy: zeroShot, poolSize: pool.ids(.train).count, classes: pool.classes)
        }
        return Comparison(runs: runs, strategies: labels, seeds: seeds, masterSeed: masterSeed, plannedRuns: runs.count, zeroShotAccuracy: zeroShot,
                          poolSize: pool.ids(.train).count, classes: pool.classes)
    }

    /// "partial: 3 of 6 runs finished (interrupted)" for a partial comparison, else nil.
    public var partialNote: String? {
        guard isPartial, let planned = plannedRuns else { return nil }
        return "partial: \(runs.count) of \(planned) runs finished (interrupted)"
    }

    public struct Curve: Sendable {
        public var strategy: String
        public var labels: [Double]       // mean labels used per round
        public var mean: [Double]         // accuracy
        public var sd: [Double]           // sample standard deviation over seeds
    }

    public func curve(_ strategy: String) -> Curve {
        let mine = runs.filter { $0.strategy == strategy }
        let rounds = mine.map(\.rounds.count).min() ?? 0
        var c = Curve(strategy: strategy, labels: [], mean: [], sd: [])
        for r in 0..<rounds {
            let acc = mine.map { $0.rounds[r].accuracy }
            let m = acc.reduce(0, +) / Double(acc.count)
            let v = acc.count > 1 ? acc.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(acc.count - 1) : 0
            c.labels.append(Double(mine.map { $0.rounds[r].labelsUsed }.reduce(0, +)) / Double(mine.count))
            c.mean.append(m); c.sd.append(v.squareRoot())
        }
        return c
    }

    /// Area under the mean learning curve (trapezoids over labels used), divided by the label range: a mean accuracy.
    public func areaUnderCurve(_ strategy: String) -> Double {
        let c = curve(strategy)
        guard c.labels.count >= 2 else { return c.mean.first ?? 0 }
        var area = 0.0
        for i in 1..<c.labels.count { area += (c.labels[i] - c.labels[i - 1]) * (c.mean[i] + c.mean[i - 1]) / 2 }
        return area / (c.labels.last! - c.labels.first!)
    }

    /// Mean labels used at the first round whose mean accuracy reaches `target`; nil if never.
    public func labelsToReach(_ target: Double, strategy: String) -> Double? {
        let c = curve(strategy)
        return c.mean.firstIndex { $0 >= target }.map { c.labels[$0] }
    }

    /// Per round: mean and sd of (strategy − baseline) accuracy over paired seeds.
    public func pairedDifference(_ strategy: String, baseline: String = "random") -> (mean: [Double], sd: [Double])? {
        let a = runs.filter { $0.strategy == strategy }, b = runs.filter { $0.strategy == baseline }
        guard !a.isEmpty, !b.isEmpty else { return nil }
        let rounds = min(a.map(\.rounds.count).min()!, b.map(\.rounds.count).min()!)
        var mean: [Double] = [], sd: [Double] = []
        for r in 0..<rounds {
            let diffs = a.compactMap { run in b.first { $0.seed == run.seed }.map { run.rounds[r].accuracy - $0.rounds[r].accuracy } }
            let m = diffs.reduce(0, +) / Double(max(1, diffs.count))
            let v = diffs.count > 1 ? diffs.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(diffs.count - 1) : 0
            mean.append(m); sd.append(v.squareRoot())
        }
        return (mean, sd)
    }

    /// The paper's Table 1 layout: a row per strategy, a column per round, "mean ± sd" in percent.
    /// The table's cells: a header row, then a row per strategy (mean ± sd per round in %, and the AULC). With one
    /// seed there is no spread to show, so the cells hold the mean alone.
    func tableCells() -> [[String]] {
        let rounds = strategies.map { curve($0).mean.count }.max() ?? 0
        let spread = seeds.count > 1
        var rows = [["strategy"] + (0..<rounds).map { roundHeader($0) } + ["AULC"]]
        for s in strategies {
            let c = curve(s)
            let cells = (0..<rounds).map { r in
                r < c.mean.count ? (spread ? String(format: "%.1f ± %.1f", 100 * c.mean[r], 100 * c.sd[r]) : String(format: "%.1f", 100 * c.mean[r])) : ""
            }
            rows.append([s] + cells + [String(format: "%.1f", 100 * areaUnderCurve(s))])
        }
        return rows
    }

    /// "round 2" and, when the pool is known, what it stands for under either protocol: the labels used (mean over
    /// runs), their cumulative share of the pool and the labels per class, e.g. "round 2: 48 (2.0%, 2.4/class)".
    func roundHeader(_ r: Int) -> String {
        let labels = strategies.compactMap { s -> Double? in let c = curve(s); return r < c.labels.count ? c.labels[r] : nil }.first
        guard let labels, let n = poolSize, n > 0, let k = classes, k > 0 else { return "round \(r + 1)" }
        return String(format: "round %d: %.0f (%.1f%%, %.1f/class)", r + 1, labels, 100 * labels / Double(n), labels / Double(k))
    }

    /// Aligned text: the names left-aligned, the numbers right-aligned, every column as wide as its widest cell.
    public func table() -> String {
        let rows = tableCells()
        let note = partialNote.map { "(\($0))\n" } ?? ""
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return c == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }.joined() + note
    }

    /// The same table in Markdown (for notebooks that render it).
    public func markdownTable() -> String {
        let rows = tableCells()
        func row(_ cells: [String]) -> String { "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n" }
        return row(rows[0]) + row(Array(repeating: "---", count: rows[0].count)) + rows.dropFirst().map(row).joined()
            + (partialNote.map { "\n*\($0)*\n" } ?? "")
    }
}
