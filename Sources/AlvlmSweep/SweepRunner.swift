import AlvlmActive
import AlvlmEngine
import AlvlmSettings
import AlvlmWorld
import Foundation

/// Running a sweep's tasks: one in this process (what every worker, local or on a Slurm node, does), or all of them
/// locally in this process or in worker processes.
public enum SweepRunner {
    /// Runs task `k` and writes its result atomically (a task killed on the way leaves no result file).
    @discardableResult
    public static func runTask(_ folder: SweepFolder, task k: Int, settings: Settings = .process,
                               progress: ((String) -> Void)? = nil, cancel: CancellationToken? = nil) throws -> SweepResult {
        let plan = try folder.plan()
        guard k >= 0, k < plan.taskCount else {
            throw EngineError(.argument, "task \(k) is not in the sweep (tasks 0...\(plan.taskCount - 1))", path: folder.path)
        }
        if settings.sweepTaskDelay > 0 { Thread.sleep(forTimeInterval: settings.sweepTaskDelay) }
        let started = Date()
        let pool = try folder.pool()
        let model = try ModelSource.load(plan.model)
        model.imagePrecision = plan.imagePrecision ?? .float32
        let cache = try? FeatureCache(directory: settings.featuresDirectory)
        cache?.onWriteFailure = { progress?("warning: the feature cache cannot be written: \($0.description)") }
        if let shards = plan.encodeShards {
            guard let cache else { throw EngineError(.io, "the feature cache cannot be opened", path: settings.featuresDirectory) }
            var encoded = 0
            for split in Split.allCases {
                let ids = shard(pool.ids(split), k, of: shards)
                encoded += ids.count
                _ = try PoolFeatures.compute(pool: pool, ids: ids, model: model, cache: cache, cancel: cancel)
            }
            guard cache.failedWrites == 0 else { throw EngineError(.io, "\(cache.failedWrites) features could not be written to the cache", path: cache.directory) }
            let result = SweepResult(task: k, fingerprint: plan.fingerprint, strategy: "encode", seed: UInt64(encoded), rounds: [],
                                     zeroShotAccuracy: 0, node: settings.slurmNode ?? "local", seconds: Date().timeIntervalSince(started))
            try writeAtomically(try SweepFolder.encoder.encode(result), to: folder.resultFile(k))
            return result
        }
        let train = try PoolFeatures.compute(pool: pool, ids: pool.ids(.train), model: model, cache: cache, cancel: cancel)
        let test = try PoolFeatures.compute(pool: pool, ids: pool.ids(.test), model: model, cache: cache, cancel: cancel)
        let (s, i) = plan.task(k)
        let run = try Comparison.runOne(pool: pool, model: model, trainFeatures: train, testFeatures: test, strategy: plan.strategies[s],
                                        seed: plan.seeds[i], rounds: plan.rounds, budget: plan.budget, trainer: plan.trainer,
                                        pseudo: plan.pseudo, progress: progress, cancel: cancel)
        let result = SweepResult(task: k, fingerprint: plan.fingerprint, strategy: plan.labels[s], seed: plan.seeds[i], rounds: run.rounds,
                                 zeroShotAccuracy: run.zeroShot, node: settings.slurmNode ?? "local", seconds: Date().timeIntervalSince(started))
        try writeAtomically(try SweepFolder.encoder.encode(result), to: folder.resultFile(k))
        return result
    }

    /// Shard k of n of a list, cut at multiples of the encoder's batch (16), so that every batch holds the images a
    /// single encode of the whole list would put in it: the cached features are the same bits either way.
    public static func shard<T>(_ items: [T], _ k: Int, of n: Int, batch: Int = 16) -> [T] {
        let batches = (items.count + batch - 1) / batch
        let lo = min(items.count, batches * k / n * batch), hi = min(items.count, batches * (k + 1) / n * batch)
        return Array(items[lo..<hi])
    }

    /// Runs every task without a valid result: in this process one after the other (`executable` nil), or in up to
    /// `workers` processes of `executable sweep task DIR K` at once, each writing its log. Returns the tasks that
    /// failed (their logs say why); cancelling stops starting new tasks and stops the running ones.
    public static func runLocal(_ folder: SweepFolder, workers: Int, executable: String?, settings: Settings = .process,
                                progress: ((String) -> Void)? = nil, cancel: CancellationToken? = nil) throws -> [Int] {
        let plan = try folder.plan()
        let todo = folder.missing(plan: plan)
        var failed: [Int] = []
        guard let executable, workers >= 1 else {
            for (n, k) in todo.enumerated() {
                if cancel?.isCancelled == true { throw EngineError(.cancelled, "sweep stopped after \(n) of \(todo.count) tasks") }
                progress?("task \(k) (\(n + 1) of \(todo.count))")
                do { try runTask(folder, task: k, settings: settings, cancel: cancel) } catch let e as EngineError where e.kind == .cancelled {
                    throw e
                } catch {
                    failed.append(k)
                    try? Data("\(error)\n".utf8).write(to: URL(fileURLWithPath: folder.logFile(k)))
                }
            }
            return failed
        }
        var queue = todo[...]
        var running: [(task: Int, process: Process)] = []
        var finished = 0
        while !queue.isEmpty || !running.isEmpty {
            if cancel?.isCancelled == true {
                for r in running { r.process.terminate() }
                for r in running { r.process.waitUntilExit() }
                throw EngineError(.cancelled, "sweep stopped after \(finished) of \(todo.count) tasks (the running ones were stopped)")
            }
            while running.count < workers, let k = queue.popFirst() {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: executable)
                p.arguments = ["sweep", "task", folder.path, String(k)]
                FileManager.default.createFile(atPath: folder.logFile(k), contents: nil)
                let log = try FileHandle(forWritingTo: URL(fileURLWithPath: folder.logFile(k)))
                p.standardOutput = log; p.standardError = log; p.standardInput = FileHandle.nullDevice
                try p.run()
                try? log.close()
                running.append((k, p))
            }
            Thread.sleep(forTimeInterval: 0.05)
            let ended = running.filter { !$0.process.isRunning }
            for r in ended {
                finished += 1
                let ok = r.process.terminationStatus == 0 && folder.result(r.task, plan: plan) != nil
                if !ok { failed.append(r.task) }
                progress?("task \(r.task) \(ok ? "done" : "failed") (\(finished) of \(todo.count))")
            }
            running.removeAll { r in ended.contains { $0.task == r.task } }
        }
        return failed.sorted()
    }
}
