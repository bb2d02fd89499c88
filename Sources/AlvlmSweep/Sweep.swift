import AlvlmActive
import AlvlmEngine
import Foundation

/// A comparison split into independent tasks (one per strategy and seed) in a folder on a shared filesystem:
///
///     DIR/sweep.json            the plan: everything a task needs to run anywhere (below)
///     DIR/pool.json             the pool itself (ids, paths, splits, labels, class names, template)
///     DIR/results/task-K.json   one per finished task, written atomically (a killed task leaves none)
///     DIR/logs/task-K.log       each task's output
///     DIR/slurm.json            the Slurm jobs submitted for it (array and merge job ids), if any
///     DIR/comparison.json       the merged comparison, once every task has its result
///
/// A task's seed is the comparison's child seed for its seed index, derived from the master seed alone, so results
/// do not depend on the order, process or node tasks ran on.
public struct SweepPlan: Codable, Equatable, Sendable {
    public var version = 1
    /// The model as the user named it (`ModelSource`): "tiny", "random:ARCH[:SEED]" or a folder.
    public var model: String
    public var strategies: [StrategySpec]
    public var labels: [String]
    public var seeds: [UInt64]
    public var masterSeed: UInt64
    public var rounds: Int
    public var budget: Budget
    public var trainer: TrainerSpec
    public var pseudo: PseudoLabelling?
    /// A hash of the plan and the pool: results written under another plan are not this one's.
    public var fingerprint: String = ""
    /// An encoding sweep instead of a comparison: the pool's images encoded into the feature cache in this many shards.
    public var encodeShards: Int? = nil
    /// The model's image precision when not float32 (`ImagePrecision`; absent from plans written before it existed).
    public var imagePrecision: ImagePrecision? = nil

    /// What a plan file must hold before any task is looked up in it (a file edited by hand, or torn).
    func check(path: String) throws {
        func fail(_ m: String) -> EngineError { EngineError(.format, "the sweep plan \(m)", path: path) }
        if let shards = encodeShards {
            guard (1...10_000).contains(shards) else { throw fail("has \(shards) shards (1...10000)") }
            return
        }
        guard !strategies.isEmpty, labels.count == strategies.count else { throw fail("has \(strategies.count) strategies and \(labels.count) names") }
        guard !seeds.isEmpty, seeds.count <= 1000, strategies.count <= 1000 else { throw fail("has \(seeds.count) seeds and \(strategies.count) strategies") }
        guard rounds >= 1, rounds <= 10_000 else { throw fail("has \(rounds) rounds") }
        for s in strategies { _ = try s.make() }
        _ = try budget.resolve(poolSize: Int.max / 2)
    }

    /// Task k runs strategy k / seeds.count with seed k % seeds.count (strategy-major, as a local comparison runs);
    /// in an encoding sweep, task k encodes shard k.
    public var taskCount: Int { encodeShards ?? strategies.count * seeds.count }
    public func task(_ k: Int) -> (strategy: Int, seed: Int) { (k / seeds.count, k % seeds.count) }
}

/// One finished task.
public struct SweepResult: Codable, Sendable {
    public var task: Int
    public var fingerprint: String
    public var strategy: String
    public var seed: UInt64
    public var rounds: [RoundRecord]
    public var zeroShotAccuracy: Double
    /// Where it ran: the Slurm node ($SLURMD_NODENAME) or "local", and how long it took.
    public var node: String
    public var seconds: Double
}

/// The pool as stored in a sweep folder.
struct PoolFile: Codable {
    var name: String
    var classNames: [String]
    var template: String
    var samples: [Sample]
}

/// A sweep folder: planning, reading results, merging.
public struct SweepFolder: Sendable {
    public let path: String
    public init(_ path: String) { self.path = (path as NSString).expandingTildeInPath }

    public var planFile: String { path + "/sweep.json" }
    public var poolFile: String { path + "/pool.json" }
    public var comparisonFile: String { path + "/comparison.json" }
    public var slurmFile: String { path + "/slurm.json" }
    public func resultFile(_ k: Int) -> String { path + "/results/task-\(k).json" }
    public func logFile(_ k: Int) -> String { path + "/logs/task-\(k).log" }

    /// Writes a new plan. A folder that already holds a different plan is refused (its results would be mixed up);
    /// the same plan again is accepted as is, keeping its results.
    public static func plan(at path: String, pool: Pool, model: String, strategies: [StrategySpec], seeds count: Int, masterSeed: UInt64,
                            rounds: Int, budget: Budget, trainer: TrainerSpec, pseudo: PseudoLabelling?,
                            precision: ImagePrecision = .float32) throws -> SweepFolder {
        guard !strategies.isEmpty, count >= 1 else { throw EngineError(.argument, "a sweep needs strategies and at least one seed") }
        guard rounds >= 1 else { throw EngineError(.argument, "rounds must be at least 1") }
        var plan = SweepPlan(model: model, strategies: strategies, labels: Comparison.labels(strategies),
                             seeds: Comparison.childSeeds(master: masterSeed, count: count), masterSeed: masterSeed, rounds: rounds,
                             budget: budget, trainer: trainer, pseudo: pseudo)
        plan.imagePrecision = precision == .float32 ? nil : precision
        return try write(plan, pool: pool, at: path)
    }

    /// Plans the encoding of a pool's images (every split) into the feature cache as `shards` tasks.
    public static func planEncoding(at path: String, pool: Pool, model: String, shards: Int, precision: ImagePrecision = .float32) throws -> SweepFolder {
        guard shards >= 1, shards <= 10_000 else { throw EngineError(.argument, "shards must be in 1...10000") }
        var plan = SweepPlan(model: model, strategies: [], labels: [], seeds: [], masterSeed: 0, rounds: 0, budget: .count(1), trainer: .none, pseudo: nil)
        plan.encodeShards = shards
        plan.imagePrecision = precision == .float32 ? nil : precision
        return try write(plan, pool: pool, at: path)
    }

    static func write(_ plan: SweepPlan, pool: Pool, at path: String) throws -> SweepFolder {
        var plan = plan
        let folder = SweepFolder(path)
        let poolData = try Self.encoder.encode(PoolFile(name: pool.name, classNames: pool.classNames, template: pool.template, samples: pool.samples))
        var h = FNV64()
        h.add(String(decoding: try Self.encoder.encode(plan), as: UTF8.self))
        h.add(pool.fingerprint)
        plan.fingerprint = String(h.value, radix: 16)
        if let existing = try? folder.plan() {
            guard existing.fingerprint == plan.fingerprint else {
                throw EngineError(.argument, "the folder holds another sweep (plan \(existing.fingerprint)); choose a new folder", path: folder.path)
            }
            return folder
        }
        for sub in ["", "/results", "/logs"] {
            do { try FileManager.default.createDirectory(atPath: folder.path + sub, withIntermediateDirectories: true) } catch {
                throw EngineError(.io, "cannot create the sweep folder: \(error.localizedDescription)", path: folder.path + sub)
            }
        }
        try writeAtomically(poolData, to: folder.poolFile)
        try writeAtomically(try Self.encoder.encode(plan), to: folder.planFile)
        return folder
    }

    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return e
    }

    /// One of the folder's JSON files, its format errors naming the file.
    static func read<T: Decodable>(_ type: T.Type, from path: String, what: String) throws -> T {
        let data = try readInputFile(path, what: what)
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw EngineError(.format, "not an alvlm \(what): \(error)", path: path)
        }
    }

    public func plan() throws -> SweepPlan {
        let plan = try Self.read(SweepPlan.self, from: planFile, what: "sweep plan")
        try plan.check(path: planFile)
        return plan
    }

    public func pool() throws -> Pool {
        let file = try Self.read(PoolFile.self, from: poolFile, what: "sweep pool")
        let pool = try Pool(name: file.name, classNames: file.classNames, samples: file.samples)
        pool.template = file.template
        return pool
    }

    /// Task k's result, if it has a valid one for this plan.
    public func result(_ k: Int, plan: SweepPlan) -> SweepResult? {
        guard let data = FileManager.default.contents(atPath: resultFile(k)),
              let r = try? JSONDecoder().decode(SweepResult.self, from: data),
              r.task == k, r.fingerprint == plan.fingerprint, r.rounds.count == plan.rounds else { return nil }
        return r
    }

    /// Tasks without a valid result.
    public func missing(plan: SweepPlan) -> [Int] { (0..<plan.taskCount).filter { result($0, plan: plan) == nil } }

    /// The merged comparison, in the order a local comparison runs. Refuses, naming the missing tasks, unless
    /// `partial` (then it holds the finished runs and says how many were planned).
    public func collect(partial: Bool = false) throws -> Comparison {
        let plan = try plan()
        guard plan.encodeShards == nil else { throw EngineError(.argument, "an encoding sweep has no comparison (sweep status tells whether every shard is done)", path: path) }
        let results = (0..<plan.taskCount).map { result($0, plan: plan) }
        let missing = results.indices.filter { results[$0] == nil }
        if !missing.isEmpty && !partial {
            throw EngineError(.argument, "\(missing.count) of \(plan.taskCount) tasks have no result yet: \(Self.describe(missing, plan: plan)) (sweep status shows why; sweep resume reruns them; collect --partial merges the rest)", path: path)
        }
        let done = results.compactMap { $0 }
        guard let first = done.first else { throw EngineError(.argument, "no task has finished yet", path: path) }
        let pool = try pool()
        let strategies = plan.labels.filter { label in done.contains { $0.strategy == label } }
        let comparison = Comparison(runs: done.map { Comparison.Run(strategy: $0.strategy, seed: $0.seed, rounds: $0.rounds) },
                                    strategies: strategies, seeds: plan.seeds, masterSeed: plan.masterSeed, plannedRuns: plan.taskCount,
                                    zeroShotAccuracy: first.zeroShotAccuracy, poolSize: pool.ids(.train).count, classes: pool.classes)
        try writeAtomically(try Self.encoder.encode(comparison), to: comparisonFile)
        return comparison
    }

    /// "task 3 (cec, seed 2 of 3), task 5 (...)".
    public static func describe(_ tasks: [Int], plan: SweepPlan) -> String {
        tasks.map { k in
            if plan.encodeShards != nil { return "shard \(k)" }
            let (s, i) = plan.task(k)
            return "task \(k) (\(plan.labels[s]), seed \(i + 1) of \(plan.seeds.count))"
        }.joined(separator: ", ")
    }

    /// The last lines of a task's log.
    public func logTail(_ k: Int, lines: Int = 5) -> String {
        guard let data = FileManager.default.contents(atPath: logFile(k)) else { return "(no log)" }
        let text = String(decoding: data.suffix(4096), as: UTF8.self)
        let parts = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.split(separator: "\r").last.map(String.init) ?? "" }
        return parts.suffix(lines).joined(separator: "\n")
    }
}
