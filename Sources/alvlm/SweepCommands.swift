import AlvlmActive
import AlvlmEngine
import AlvlmSettings
import AlvlmSweep
import AlvlmWorld
import ArgumentParser
import Foundation

/// `alvlm sweep ...`: a comparison as a folder of independent tasks, run here or as a Slurm job array.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "A comparison as a folder of tasks (strategy x seed), run locally or as a Slurm job array, merged exactly.",
        discussion: "The folder (on a filesystem every node sees, as the feature cache should be) holds the plan, the pool, one result per task, the logs and the merged comparison. A task's seed comes from the master seed and the task alone, so the merge equals the local comparison. In the language: compare(..., on: local(workers: 2)) or on: slurm(...), and load_sweep(DIR).",
        subcommands: [Plan.self, Run.self, Task.self, Submit.self, Status.self, Resume.self, Collect.self, Cancel.self, Verify.self])

    /// This binary, which local workers and Slurm tasks run (it must be on the shared filesystem for Slurm).
    static var executable: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path }

    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a sweep folder: the pool, model, strategies, seeds, rounds, budget and trainer.",
            discussion: "Strategies as NAME or NAME:PARAM=VALUE,PARAM=VALUE (the parameters of `alvlm select --help`), e.g. --strategy random --strategy cec:k=5.")
        @Argument(help: "The sweep folder (created).") var folder: String
        @Option(name: .long, help: "The pool: textures (the texture world; see --train and --test-per-class) or a CSV list path,label[,split].") var pool = "textures"
        @Option(name: .long, help: "Texture world: training pool size.") var train = TextureWorld().trainSize
        @Option(name: .long, help: "Texture world: validation images.") var val = TextureWorld().valSize
        @Option(name: .customLong("test-per-class"), help: "Texture world: test images per class.") var testPerClass = TextureWorld().testPerClass
        @Option(name: .customLong("world-seed"), help: "Texture world: its seed.") var worldSeed: UInt64 = 0
        @Option(name: .long, help: "The model: tiny, random:ARCH[:SEED] or a model folder.") var model = "tiny"
        @Option(name: .long, help: "A strategy, NAME[:PARAM=VALUE,...] (repeatable).") var strategy: [String] = []
        @Option(name: .long, help: "Seeds per strategy.") var seeds = 3
        @Option(name: .long, help: "The master seed the tasks' seeds derive from.") var seed: UInt64 = 0
        @Option(name: .long, help: "Rounds per run.") var rounds = 6
        @Option(name: .long, help: "Labels per round (a count), or a percent of the training pool with %, e.g. 1%.") var budget = "1%"
        @Option(name: .long, help: "The trainer: recommended (the model's CoOp), paper (the paper's CoOp), linear-probe or none.") var trainer = "recommended"
        @Option(name: .customLong("encode-shards"), help: "Instead of a comparison: encode the pool's images into the feature cache as N tasks.") var encodeShards: Int?
        @Option(name: .long, help: "Image encoding on the workers: float32, or bfloat16 (where a worker's CPU has AMX or AVX512-BF16; float32 elsewhere).") var precision: ImagePrecision = .float32

        func run() throws {
            try reportingErrors {
                let specs = try strategy.map(Self.spec)
                guard !specs.isEmpty || encodeShards != nil else { throw EngineError(.argument, "give at least one --strategy (or --encode-shards N)") }
                let thePool: Pool
                if pool == "textures" {
                    var w = TextureWorld(seed: worldSeed)
                    w.trainSize = train; w.valSize = val; w.testPerClass = testPerClass
                    thePool = try w.pool(directory: w.cacheDirectory(), cancel: nil)
                } else {
                    thePool = try DatasetLoader.csv(pool)
                }
                let loaded = try ModelSource.load(model)
                let modelSource = model.hasPrefix("random:") || model == "tiny" ? model : URL(fileURLWithPath: (model as NSString).expandingTildeInPath).standardizedFileURL.path
                if let encodeShards {
                    guard specs.isEmpty else { throw EngineError(.argument, "an encoding sweep (--encode-shards) takes no strategies") }
                    let folder = try SweepFolder.planEncoding(at: self.folder, pool: thePool, model: modelSource, shards: encodeShards, precision: precision)
                    print("planned \(encodeShards) encoding tasks in \(folder.path)")
                    return
                }
                let trainerSpec: TrainerSpec
                switch trainer {
                case "recommended": trainerSpec = ModelSource.recommendation(for: loaded).coop
                case "paper": trainerSpec = .paper
                case "linear-probe": trainerSpec = .linearProbe
                case "none": trainerSpec = .none
                default: throw EngineError(.argument, "--trainer must be recommended, paper, linear-probe or none, not \(trainer)")
                }
                let theBudget: Budget
                if budget.hasSuffix("%"), let p = Double(budget.dropLast()) { theBudget = .percent(p) } else if let n = Int(budget) { theBudget = .count(n) } else {
                    throw EngineError(.argument, "--budget takes a count or a percent such as 1%, not \(budget)")
                }
                _ = try theBudget.resolve(poolSize: thePool.ids(.train).count)
                let folder = try SweepFolder.plan(at: self.folder, pool: thePool, model: modelSource, strategies: specs, seeds: seeds, masterSeed: seed,
                                                  rounds: rounds, budget: theBudget, trainer: trainerSpec, pseudo: nil, precision: precision)
                print("planned \(try folder.plan().taskCount) tasks in \(folder.path)")
            }
        }

        static func spec(_ text: String) throws -> StrategySpec {
            let parts = text.split(separator: ":", maxSplits: 1)
            let name = String(parts.first ?? "")
            let entry = try Strategies.entry(name)
            var s = StrategySpec(name: name)
            for item in parts.count > 1 ? parts[1].split(separator: ",") : [] {
                guard let eq = item.firstIndex(of: "="), eq != item.startIndex else { throw EngineError(.argument, "strategy parameters are PARAM=VALUE, not \(item)") }
                let key = String(item[..<eq]), value = String(item[item.index(after: eq)...])
                guard let p = entry.parameter(key) else { throw EngineError(.argument, "\(name) has no parameter \(key)") }
                try p.set(try p.parse(value), in: &s)
            }
            return s
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run every task without a result here: in this process, or in N worker processes; then merge.")
        @Argument(help: "The sweep folder.") var folder: String
        @Option(name: .long, help: "Worker processes (0: in this process).") var workers = 0

        func run() throws {
            try reportingErrors {
                let f = SweepFolder(folder)
                installInterruptHandler()
                let failed = try SweepRunner.runLocal(f, workers: workers, executable: workers > 0 ? SweepCommand.executable : nil,
                                                      progress: { FileHandle.standardError.write(Data("\($0)\n".utf8)) }, cancel: InterruptToken())
                if !failed.isEmpty {
                    let plan = try f.plan()
                    for k in failed { FileHandle.standardError.write(Data("task \(k) failed; its log ends:\n\(f.logTail(k))\n".utf8)) }
                    throw EngineError(.argument, "\(failed.count) task(s) failed: \(SweepFolder.describe(failed, plan: plan)) (sweep run again reruns only them)")
                }
                try SweepCommand.report(f, partial: false)
            }
        }
    }

    /// Prints the merged table, or for an encoding sweep what was encoded (an error while shards are missing).
    static func report(_ f: SweepFolder, partial: Bool) throws {
        let plan = try f.plan()
        if plan.encodeShards != nil {
            let missing = f.missing(plan: plan)
            guard missing.isEmpty else { throw EngineError(.argument, "\(missing.count) of \(plan.taskCount) shards are not done: \(SweepFolder.describe(missing, plan: plan))", path: f.path) }
            let images = (0..<plan.taskCount).compactMap { f.result($0, plan: plan) }.map { Int($0.seed) }.reduce(0, +)
            print("all \(plan.taskCount) shards done: \(images) images encoded into \(Settings.process.featuresDirectory)")
            return
        }
        print(try f.collect(partial: partial).table(), terminator: "")
    }

    struct Task: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run one task and write its result (what workers and Slurm array tasks run).")
        @Argument(help: "The sweep folder.") var folder: String
        @Argument(help: "The task number.") var task: Int

        func run() throws {
            try reportingErrors {
                installInterruptHandler()
                let r = try SweepRunner.runTask(SweepFolder(folder), task: task, progress: { print($0) }, cancel: InterruptToken())
                if r.strategy == "encode" { print("shard \(task): \(r.seed) images encoded on \(r.node)"); return }
                print("task \(task): \(r.strategy) seed \(r.seed) on \(r.node), final accuracy \(String(format: "%.4f", r.rounds.last?.accuracy ?? 0)) (\(String(format: "%.1f", r.seconds)) s)")
            }
        }
    }

    struct SlurmOptions: ParsableArguments {
        @Option(name: .long, help: "Slurm partition.") var partition: String?
        @Option(name: .customLong("cpus-per-task"), help: "CPUs per task.") var cpusPerTask: Int?
        @Option(name: .long, help: "Memory per task (sbatch --mem, e.g. 8G).") var mem: String?
        @Option(name: .long, help: "Time limit per task (e.g. 4:00:00).") var time: String?
        @Option(name: .customLong("max-running"), help: "At most this many tasks at once.") var maxRunning: Int?
        @Option(name: .customLong("sbatch-arg"), parsing: .unconditionalSingleValue, help: "An sbatch option passed as is (repeatable), e.g. --sbatch-arg=--account=lab.") var sbatchArgs: [String] = []

        var options: Slurm.Options {
            Slurm.Options(partition: partition, cpusPerTask: cpusPerTask, memory: mem, time: time, maxRunning: maxRunning, extra: sbatchArgs)
        }
    }

    struct Submit: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Submit the tasks as one Slurm job array and a merge job after them (--dependency=afterok).")
        @Argument(help: "The sweep folder (on the shared filesystem).") var folder: String
        @Flag(name: .long, help: "Submit to Slurm (the only scheduler).") var slurm = false
        @OptionGroup var slurmOptions: SlurmOptions

        func run() throws {
            try reportingErrors {
                guard slurm else { throw EngineError(.argument, "say --slurm (or run the tasks here with sweep run)") }
                let s = try Slurm.submit(SweepFolder(folder), options: slurmOptions.options, executable: SweepCommand.executable)
                print("submitted \(s.tasks.count) tasks as job array \(s.arrayJob), merge job \(s.mergeJob)")
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each task's state (done, or Slurm's), with the log tail of failed ones.")
        @Argument(help: "The sweep folder.") var folder: String

        func run() throws {
            try reportingErrors {
                let f = SweepFolder(folder)
                let plan = try f.plan()
                let states = try Slurm.status(f)
                for s in states {
                    let (strategy, seed) = plan.task(s.task)
                    var line = "task \(s.task)  \(plan.labels[strategy])  seed \(seed + 1)/\(plan.seeds.count)  \(s.state)"
                    if !s.node.isEmpty { line += "  on \(s.node)" }
                    if !s.reason.isEmpty { line += "  (\(s.reason))" }
                    print(line)
                    if ["FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED"].contains(s.state) {
                        print(f.logTail(s.task).split(separator: "\n").map { "    | " + $0 }.joined(separator: "\n"))
                    }
                }
                let done = states.filter { $0.state == "done" }.count
                let merge = Slurm.mergeState(f)
                print("\(done) of \(states.count) tasks done" + (merge.isEmpty ? "" : "; merge job \(merge)")
                      + (FileManager.default.fileExists(atPath: f.comparisonFile) && done == states.count ? "; merged in \(f.comparisonFile)" : ""))
            }
        }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resubmit only the tasks without a valid result (with the last submission's Slurm options unless given).")
        @Argument(help: "The sweep folder.") var folder: String
        @OptionGroup var slurmOptions: SlurmOptions

        func run() throws {
            try reportingErrors {
                let f = SweepFolder(folder)
                let given = slurmOptions.options
                let options = given == Slurm.Options() ? (Slurm.submissions(f).last?.options ?? given) : given
                let s = try Slurm.submit(f, options: options, executable: SweepCommand.executable)
                print("resubmitted \(s.tasks.count) tasks (\(s.tasks.map(String.init).joined(separator: ", "))) as job array \(s.arrayJob), merge job \(s.mergeJob)")
            }
        }
    }

    struct Collect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Merge the results into the comparison (comparison.json); refuses while tasks are missing unless --partial.")
        @Argument(help: "The sweep folder.") var folder: String
        @Flag(name: .long, help: "Merge what has finished.") var partial = false

        func run() throws {
            try reportingErrors {
                try SweepCommand.report(SweepFolder(folder), partial: partial)
            }
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel the sweep's Slurm jobs (tasks and merge); finished results stay.")
        @Argument(help: "The sweep folder.") var folder: String

        func run() throws {
            try reportingErrors {
                let jobs = try Slurm.cancel(SweepFolder(folder))
                print(jobs.isEmpty ? "no Slurm jobs recorded for this sweep" : "cancelled jobs \(jobs.joined(separator: ", "))")
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rerun one task here and compare with its recorded result (queried ids and accuracies).")
        @Argument(help: "The sweep folder.") var folder: String
        @Option(name: .long, help: "The task to rerun.") var task: Int

        func run() throws {
            try reportingErrors {
                let f = SweepFolder(folder)
                let plan = try f.plan()
                guard let recorded = f.result(task, plan: plan) else { throw EngineError(.argument, "task \(task) has no result to verify", path: f.path) }
                let scratch = SweepFolder(NSTemporaryDirectory() + "alvlm-verify-\(getpid())")
                defer { try? FileManager.default.removeItem(atPath: scratch.path) }
                try FileManager.default.createDirectory(atPath: scratch.path + "/results", withIntermediateDirectories: true)
                for file in ["sweep.json", "pool.json"] { try FileManager.default.copyItem(atPath: f.path + "/" + file, toPath: scratch.path + "/" + file) }
                let again = try SweepRunner.runTask(scratch, task: task)
                let sameIDs = zip(again.rounds, recorded.rounds).allSatisfy { $0.queried == $1.queried }
                let accuracy = zip(again.rounds, recorded.rounds).map { abs($0.accuracy - $1.accuracy) }.max() ?? 0
                print("task \(task) on \(recorded.node), rerun here: queried ids \(sameIDs ? "identical" : "DIFFER"), largest accuracy difference \(accuracy)")
                if !sameIDs || accuracy > 0 { throw ExitCode(1) }
            }
        }
    }
}
