import AlvlmActive
import AlvlmEngine
import AlvlmLanguage
import AlvlmSweep
import Foundation

/// Where a comparison's runs go: worker processes here, or a Slurm job array (`compare(..., on: ...)`).
public final class PlacementObject: LanguageObject {
    enum Kind { case local(workers: Int), slurm(Slurm.Options), planOnly }
    let kind: Kind
    public static let typeName = "placement"
    init(_ kind: Kind) { self.kind = kind }
    public var summary: String {
        switch kind {
        case .local(let n): "local(workers: \(n))"
        case .planOnly: "planned()"
        case .slurm(let o): "slurm(" + ([o.partition.map { "partition: \($0)" }, o.cpusPerTask.map { "cpus: \($0)" }, o.memory.map { "mem: \($0)" },
                                        o.time.map { "time: \($0)" }].compactMap { $0 }.joined(separator: ", ")) + ")"
        }
    }
}

extension Bindings {
    static func registerSweeps(_ r: Registry) {
        r.group = .experiments
        r.register(Builtin("local", [Parameter("workers", .integer, default: .number(2), "worker processes at once")],
                           summary: "run a comparison's runs in worker processes on this machine (compare(..., on: local(workers: 2), sweep: DIR))",
                           returns: "placement") { args, _ in
            guard args.int("workers") >= 1, args.int("workers") <= 256 else { throw args.error("workers", "workers must be in 1...256") }
            return .object(PlacementObject(.local(workers: args.int("workers"))))
        })
        r.register(Builtin("slurm", [Parameter("partition", .oneOf([.string, .nilValue]), default: .null),
                                     Parameter("cpus", .oneOf([.integer, .nilValue]), default: .null, "CPUs per task"),
                                     Parameter("mem", .oneOf([.string, .nilValue]), default: .null, "memory per task, e.g. \"8G\""),
                                     Parameter("time", .oneOf([.string, .nilValue]), default: .null, "time limit per task, e.g. \"4:00:00\""),
                                     Parameter("max_running", .oneOf([.integer, .nilValue]), default: .null, "at most this many tasks at once"),
                                     Parameter("sbatch_args", .list, default: .list([]), "further sbatch options, e.g. [\"--account=lab\"]")],
                           summary: "run a comparison's runs as a Slurm job array with a merge job (compare(..., on: slurm(...), sweep: DIR))",
                           details: "The sweep folder and the feature cache must be on a filesystem every node sees. Waiting shows progress;\n" +
                               "Ctrl-C stops waiting, not the jobs: load_sweep(DIR) reopens the comparison later.", returns: "placement") { args, _ in
            guard case .list(let extra) = args["sbatch_args"] else { throw args.error("sbatch_args", "give a list of strings") }
            let options = Slurm.Options(partition: args.has("partition") ? args.string("partition") : nil,
                                        cpusPerTask: args.has("cpus") ? args.int("cpus") : nil,
                                        memory: args.has("mem") ? args.string("mem") : nil, time: args.has("time") ? args.string("time") : nil,
                                        maxRunning: args.has("max_running") ? args.int("max_running") : nil,
                                        extra: try extra.map { v in
                                            guard case .string(let s) = v else { throw args.error("sbatch_args", "every item must be a string") }
                                            return s
                                        })
            return .object(PlacementObject(.slurm(options)))
        })
        r.register(Builtin("planned", [], summary: "only write the sweep folder (compare(..., on: planned(), sweep: DIR)), to run with alvlm sweep run or submit",
                           returns: "placement") { _, _ in .object(PlacementObject(.planOnly)) })
        r.register(Builtin("load_sweep", [Parameter("path", .string, "the sweep folder")],
                           summary: "the comparison of a sweep folder (what has finished, if it is still running)", returns: "comparison") { args, interp in
            let folder = SweepFolder(args.string("path"))
            let c = try engine { try folder.collect(partial: true) }
            if let note = c.partialNote { interp.host.print("the sweep is not finished (\(note)); sweep status \(folder.path) tells why") }
            return .object(ComparisonObject(c))
        })
    }

    /// `compare(..., on: placement, sweep: DIR)`: plans the folder, runs or submits its tasks, waits, merges.
    static func sweepCompare(_ args: Arguments, _ interp: Interpreter, strategies: [StrategySpec], rounds: Int, budget: Budget,
                             trainer: TrainerSpec, pseudo: PseudoLabelling?) throws -> Value {
        let placement = args.object("on", as: PlacementObject.self)!
        guard args.has("sweep") else { throw args.error("on", "give the sweep folder too (sweep: \"DIR\", on a filesystem the workers see)") }
        let pool = args.object("pool", as: PoolObject.self)!, model = args.object("model", as: ModelObject.self)!
        guard let source = model.source else { throw args.error("model", "a sweep needs a model loaded by clip(...), which it can load again elsewhere") }
        let folder = try engine {
            try SweepFolder.plan(at: args.string("sweep"), pool: pool.pool, model: source, strategies: strategies, seeds: args.int("seeds"),
                                 masterSeed: UInt64(bitPattern: Int64(args.int("seed"))), rounds: rounds, budget: budget, trainer: trainer, pseudo: pseudo,
                                 precision: model.model.imagePrecision)
        }
        let cancel = WatchingToken(host: interp.host)
        switch placement.kind {
        case .planOnly:
            let plan = try engine { try folder.plan() }
            interp.host.print("planned \(plan.taskCount) tasks in \(folder.path): run them with alvlm sweep run \(folder.path) --workers N, or alvlm sweep submit \(folder.path) --slurm ...; load_sweep(\"\(folder.path)\") reads the result")
            return .null
        case .local(let workers):
            guard let executable = interp.executable else { throw args.error("on", "local workers need the alvlm binary; this host is not it") }
            let failed = try engine {
                try SweepRunner.runLocal(folder, workers: workers, executable: executable, progress: { interp.host.progress("sweep: \($0)") }, cancel: cancel)
            }
            if !failed.isEmpty {
                let plan = try engine { try folder.plan() }
                throw EngineError(.argument, "\(failed.count) task(s) failed: \(SweepFolder.describe(failed, plan: plan)); their logs are in \(folder.path)/logs (running the same compare again reruns only them)")
            }
        case .slurm(let options):
            let plan = try engine { try folder.plan() }
            if !folder.missing(plan: plan).isEmpty {
                guard let executable = interp.executable else { throw args.error("on", "Slurm tasks run the alvlm binary; this host is not it") }
                let s = try engine { try Slurm.submit(folder, options: options, executable: executable) }
                interp.host.print("submitted \(s.tasks.count) tasks as Slurm job array \(s.arrayJob) (merge job \(s.mergeJob)); the sweep is \(folder.path)")
            }
            while !FileManager.default.fileExists(atPath: folder.comparisonFile) || !folder.missing(plan: plan).isEmpty {
                if cancel.isCancelled {
                    interp.host.print("stopped waiting; the jobs go on (load_sweep(\"\(folder.path)\") later, or alvlm sweep status)")
                    throw LanguageError(.interrupted, "interrupted")
                }
                let states = (try? Slurm.status(folder)) ?? []
                let done = states.filter { $0.state == "done" }.count
                let bad = states.filter { ["FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "UNKNOWN"].contains($0.state) }
                if !bad.isEmpty, states.allSatisfy({ $0.state == "done" || bad.map(\.task).contains($0.task) || $0.state == "not run" }) {
                    throw EngineError(.argument, "\(bad.count) task(s) did not finish: " + bad.map { "task \($0.task) \($0.state)" }.joined(separator: ", ")
                                      + "; alvlm sweep status \(folder.path) shows their logs, alvlm sweep resume \(folder.path) reruns them")
                }
                interp.host.progress("sweep: \(done) of \(plan.taskCount) tasks done")
                Thread.sleep(forTimeInterval: 1)
            }
        }
        let c = try engine { try folder.collect() }
        return .object(ComparisonObject(c))
    }
}
