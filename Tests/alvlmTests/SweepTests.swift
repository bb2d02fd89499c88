import AlvlmActive
import AlvlmEngine
import AlvlmTestSupport
import AlvlmWorld
import Foundation
import XCTest

/// Sweeps: a 2-strategy x 2-seed x 2-round comparison on the texture world planned as a folder, run by local worker
/// processes and as a Slurm job array on a real Slurm (Scripts/slurm_up.sh: a controller and three slurmd nodes on
/// this machine), each merged result equal to the same comparison run in one process; a task cancelled while
/// running is reported, blocks the merge, and `resume` reruns only it.
final class SweepTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    var environment: [String: String] { ["ALVLM_CACHE": dir + "/cache"] }

    func alvlm(_ arguments: [String], environment extra: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runAlvlm(arguments, environment: environment.merging(extra) { _, new in new })
    }

    func plan(_ folder: String) throws {
        let r = try alvlm(["sweep", "plan", folder, "--pool", "textures", "--train", "150", "--val", "0", "--test-per-class", "1",
                           "--strategy", "random", "--strategy", "cec:k=5", "--seeds", "2", "--rounds", "2", "--budget", "5",
                           "--trainer", "linear-probe", "--seed", "7"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("planned 4 tasks"), r.stdout)
    }

    /// The same comparison in this process, on the features the sweep's tasks cached.
    func localComparison() throws -> Comparison {
        var world = TextureWorld(seed: 0)
        world.trainSize = 150; world.valSize = 0; world.testPerClass = 1
        let pool = try world.pool(directory: world.cacheDirectory(in: dir + "/cache/pools"))
        let model = try TinyCLIP.load()
        let cache = try FeatureCache(directory: dir + "/cache/features")
        let train = try PoolFeatures.compute(pool: pool, ids: pool.ids(.train), model: model, cache: cache)
        let test = try PoolFeatures.compute(pool: pool, ids: pool.ids(.test), model: model, cache: cache)
        var cec = StrategySpec(name: "cec")
        cec.neighbours = 5
        return try Comparison.run(pool: pool, model: model, trainFeatures: train, testFeatures: test, strategies: [StrategySpec(name: "random"), cec],
                                  seeds: 2, masterSeed: 7, rounds: 2, budget: .count(5), trainer: .linearProbe)
    }

    func merged(_ folder: String) throws -> Comparison {
        try JSONDecoder().decode(Comparison.self, from: try Data(contentsOf: URL(fileURLWithPath: folder + "/comparison.json")))
    }

    func assertSame(_ a: Comparison, _ b: Comparison, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.strategies, b.strategies, file: file, line: line)
        XCTAssertEqual(a.seeds, b.seeds, file: file, line: line)
        XCTAssertEqual(a.runs.count, b.runs.count, file: file, line: line)
        for (x, y) in zip(a.runs, b.runs) {
            XCTAssertEqual(x.strategy, y.strategy, file: file, line: line)
            XCTAssertEqual(x.seed, y.seed, file: file, line: line)
            XCTAssertEqual(x.rounds.map(\.queried), y.rounds.map(\.queried), "queried ids", file: file, line: line)
            XCTAssertEqual(x.rounds.map(\.accuracy), y.rounds.map(\.accuracy), "accuracies, exactly", file: file, line: line)
        }
    }

    func testLocalWorkersMergeToTheInProcessComparisonAndResumeRerunsOnlyMissingTasks() throws {
        let folder = dir + "/sweep"
        try plan(folder)
        // Planning the same sweep again keeps it; a different one in the same folder is refused.
        try plan(folder)
        let other = try alvlm(["sweep", "plan", folder, "--strategy", "entropy", "--seeds", "1", "--train", "150", "--val", "0", "--test-per-class", "1"])
        XCTAssertEqual(other.status, 1)
        XCTAssertTrue(other.stderr.contains("holds another sweep"), other.stderr)

        let run = try alvlm(["sweep", "run", folder, "--workers", "2"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let reference = try localComparison()
        assertSame(try merged(folder), reference)

        // A lost result: status names it, collect refuses with it, run reruns only it, and the merge is unchanged.
        let kept = try FileManager.default.attributesOfItem(atPath: folder + "/results/task-0.json")[.modificationDate] as? Date
        try FileManager.default.removeItem(atPath: folder + "/results/task-3.json")
        let status = try alvlm(["sweep", "status", folder])
        XCTAssertTrue(status.stdout.contains("task 3  cec (k=5)  seed 2/2  not run"), status.stdout)
        XCTAssertTrue(status.stdout.contains("3 of 4 tasks done"), status.stdout)
        let refused = try alvlm(["sweep", "collect", folder])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("task 3 (cec (k=5), seed 2 of 2)"), refused.stderr)
        let again = try alvlm(["sweep", "run", folder])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: folder + "/results/task-0.json")[.modificationDate] as? Date, kept)
        assertSame(try merged(folder), reference)
        let verify = try alvlm(["sweep", "verify", folder, "--task", "1"])
        XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
        XCTAssertTrue(verify.stdout.contains("identical"), verify.stdout)
    }

    func testTheLanguagesCompareOnLocalWorkersEqualsItsCompareHereAndLoadSweepReopensIt() throws {
        let folder = dir + "/language"
        let script = """
            pool = textures(train: 150, val: 0, test_per_class: 1)
            m = clip("tiny")
            a = compare([random(), cec(k: 5)], pool, m, seeds: 2, seed: 3, rounds: 2, budget: 5, trainer: linear_probe(), on: local(workers: 2), sweep: args[0])
            b = compare([random(), cec(k: 5)], pool, m, seeds: 2, seed: 3, rounds: 2, budget: 5, trainer: linear_probe())
            c = load_sweep(args[0])
            for s in ["random", "cec (k=5)"] { print([a.mean(s), b.mean(s), c.mean(s)]) }
            compare([random()], pool, m, on: local(), sweep: args[0])
            """
        try script.write(toFile: dir + "/s.al", atomically: true, encoding: .utf8)
        let r = try alvlm([dir + "/s.al", "--", folder])
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("[[") }
        XCTAssertEqual(lines.count, 2, r.stdout + r.stderr)
        for line in lines {
            // [[x, y], [x, y], [x, y]]: the three curves are the same list.
            let parts = line.dropFirst().dropLast().components(separatedBy: "], [")
            XCTAssertEqual(Set(parts.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "[]")) }).count, 1, String(line))
        }
        XCTAssertTrue(r.stderr.contains("holds another sweep"), "a different comparison in the same folder is refused:\n\(r.stderr)")
        // A comparison written in the language, planned only: the command line runs it to the same runs.
        let plannedScript = """
            pool = textures(train: 150, val: 0, test_per_class: 1)
            m = clip("tiny")
            compare([random(), cec(k: 5)], pool, m, seeds: 2, seed: 3, rounds: 2, budget: 5, trainer: linear_probe(), on: planned(), sweep: args[0])
            """
        try plannedScript.write(toFile: dir + "/p.al", atomically: true, encoding: .utf8)
        let planned = try alvlm([dir + "/p.al", "--", folder + "-planned"])
        XCTAssertTrue(planned.stdout.contains("planned 4 tasks in \(folder)-planned"), planned.stdout + planned.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "-planned/results/task-0.json"), "planned, not run")
        let run = try alvlm(["sweep", "run", folder + "-planned", "--workers", "2"])
        XCTAssertEqual(run.status, 0, run.stderr)
        assertSame(try merged(folder + "-planned"), try merged(folder))
    }

    func testAShardedEncodeFillsTheCacheWithTheFeaturesOfALocalEncode() throws {
        let folder = dir + "/encode"
        let shared = ["ALVLM_CACHE": dir + "/shared-cache"]
        let plan = try alvlm(["sweep", "plan", folder, "--train", "150", "--val", "10", "--test-per-class", "1", "--encode-shards", "3"], environment: shared)
        XCTAssertEqual(plan.status, 0, plan.stderr)
        let run = try alvlm(["sweep", "run", folder, "--workers", "2"], environment: shared)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("all 3 shards done: 180 images encoded"), run.stdout)
        var world = TextureWorld(seed: 0)
        world.trainSize = 150; world.valSize = 10; world.testPerClass = 1
        let pool = try world.pool(directory: world.cacheDirectory(in: dir + "/shared-cache/pools"))
        let model = try TinyCLIP.load()
        let filled = try FeatureCache(directory: dir + "/shared-cache/features")
        for split in Split.allCases {
            let ids = pool.ids(split)
            // Every image is in the cache the shards filled (a lookup per image), and equal to a fresh local encode.
            let paths = ids.map { pool.sample($0)!.path }
            let keys = try paths.map { try FeatureCache.key(modelHash: model.imageTowerHash, imagePath: $0, settings: "centre-crop size=\(model.config.imageSize)") }
            XCTAssertTrue(keys.allSatisfy { filled.lookup($0, rows: 1, width: model.config.embedDim) != nil }, "\(split): every image cached")
            let fromShards = try PoolFeatures.compute(pool: pool, ids: ids, model: model, cache: filled)
            let local = try PoolFeatures.compute(pool: pool, ids: ids, model: model, cache: nil)
            XCTAssertEqual(fromShards.values, local.values, "\(split): the same bits as one local encode")
        }
    }

    // MARK: Slurm

    func slurmIsUp() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sinfo", "-h", "-N", "-t", "idle,mix,alloc"]
        let out = Pipe()
        p.standardOutput = out; p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { throw XCTSkip("no Slurm here (Scripts/test.sh brings one up when run as root)") }
        let nodes = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").count
        p.waitUntilExit()
        guard p.terminationStatus == 0, nodes >= 2 else {
            throw XCTSkip("no Slurm cluster with at least 2 nodes is up (Scripts/test.sh brings one up when run as root)")
        }
    }

    /// Polls until the sweep's merged comparison exists or the time is up.
    func waitForMerge(_ folder: String, seconds: Double = 120) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if FileManager.default.fileExists(atPath: folder + "/comparison.json") { return true }
            Thread.sleep(forTimeInterval: 0.5)
        }
        return false
    }

    func slurmJobs(_ folder: String) throws -> [[String: Any]] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: folder + "/slurm.json"))) as? [[String: Any]])
    }

    func testASlurmArrayMergesToTheLocalComparisonAndACancelledTaskIsResumed() throws {
        try slurmIsUp()
        let folder = dir + "/slurm-sweep"
        try plan(folder)
        // Tasks wait 6 s before starting, so that one can be cancelled while it runs.
        let submit = try alvlm(["sweep", "submit", folder, "--slurm", "--cpus-per-task", "1"], environment: ["ALVLM_SWEEP_TASK_DELAY": "6"])
        XCTAssertEqual(submit.status, 0, submit.stderr)
        let array = try XCTUnwrap(try slurmJobs(folder).first?["arrayJob"] as? String)
        // Task 0 running: cancel it.
        var running = false
        for _ in 0..<100 where !running {
            let s = try alvlm(["sweep", "status", folder])
            running = s.stdout.contains("task 0  random  seed 1/2  RUNNING")
            if !running { Thread.sleep(forTimeInterval: 0.2) }
        }
        XCTAssertTrue(running, "task 0 never ran")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["scancel", "\(array)_0"]
        try p.run(); p.waitUntilExit()
        // The other tasks finish; task 0 is reported cancelled and the merge job never runs.
        var status = ""
        for _ in 0..<150 {
            status = try alvlm(["sweep", "status", folder]).stdout
            if status.contains("3 of 4 tasks done"), status.contains("task 0  random  seed 1/2  CANCELLED"), status.contains("merge job CANCELLED") { break }
            Thread.sleep(forTimeInterval: 0.4)
        }
        XCTAssertTrue(status.contains("task 0  random  seed 1/2  CANCELLED"), status)
        XCTAssertTrue(status.contains("3 of 4 tasks done"), status)
        XCTAssertTrue(status.contains("merge job CANCELLED"), "the merge job is cancelled, not left waiting:\n\(status)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/results/task-0.json"), "a cancelled task leaves no result")
        let refused = try alvlm(["sweep", "collect", folder])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("task 0 (random, seed 1 of 2)"), refused.stderr)
        // Resume: only task 0 is submitted again; the merge job then writes the comparison.
        let resume = try alvlm(["sweep", "resume", folder])
        XCTAssertEqual(resume.status, 0, resume.stderr)
        XCTAssertTrue(resume.stdout.contains("resubmitted 1 tasks (0)"), resume.stdout)
        let didMerge = waitForMerge(folder)
        XCTAssertTrue(didMerge, "the merge job did not write the comparison: \((try? alvlm(["sweep", "status", folder]).stdout) ?? "")")
        assertSame(try merged(folder), try localComparison())
        // The tasks ran on more than one node.
        let nodes = Set(try (0..<4).map { k -> String in
            let r = try XCTUnwrap(JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: folder + "/results/task-\(k).json"))) as? [String: Any])
            return r["node"] as? String ?? ""
        })
        XCTAssertGreaterThan(nodes.count, 1, "tasks ran on \(nodes)")
        XCTAssertFalse(nodes.contains("local"))
    }

    func testSubmittingWithoutAControllerFailsWithSlurmsMessageAndChangesNothing() throws {
        let folder = dir + "/no-controller"
        try plan(folder)
        // A Slurm configuration naming a controller that is not there.
        let conf = dir + "/slurm.conf"
        try "ClusterName=none\nSlurmctldHost=nowhere(127.0.0.1)\nSlurmctldPort=6999\nNodeName=n1 CPUs=1\nPartitionName=p Nodes=n1 Default=YES\n"
            .write(toFile: conf, atomically: true, encoding: .utf8)
        let r = try alvlm(["sweep", "submit", folder, "--slurm"], environment: ["SLURM_CONF": conf])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("sbatch") && (r.stderr.contains("failed") || r.stderr.contains("not installed")), r.stderr)
        for file in ["slurm.json", "slurm-task.sh", "slurm-merge.sh"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/" + file), "\(file): nothing written")
        }
    }
}
