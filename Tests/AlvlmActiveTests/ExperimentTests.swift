import AlvlmTestSupport
import XCTest
@testable import AlvlmActive
@testable import AlvlmEngine

final class ExperimentTests: XCTestCase {
    static let model = try! CLIPModel.load(directory: Fixtures.path("tiny-clip"))
    let names = ["banded", "honeycombed", "polka_dotted", "zigzagged"]

    /// A synthetic pool whose image features cluster by class (the tiny random model's text is unrelated).
    func setup(train: Int = 80, test: Int = 40) throws -> (Pool, PoolFeatures, PoolFeatures) {
        var rng = SeededRandom(seed: 11)
        let centres = rng.normals(4 * 16, std: 1)
        var samples: [Sample] = [], values: [Float] = []
        for i in 0..<(train + test) {
            let c = (i * 7) % 4
            samples.append(Sample(id: 1000 + i, path: "/nowhere/\(i).png", split: i < train ? .train : .test, label: c))
            for j in 0..<16 { values.append(centres[c * 16 + j] + Float(rng.normal() * 0.6)) }
        }
        let pool = try Pool(name: "synthetic", classNames: names, samples: samples)
        let all = PoolFeatures(ids: samples.map(\.id), values: values, width: 16)
        return (pool, PoolFeatures(ids: pool.ids(.train), values: try all.rows(for: pool.ids(.train)), width: 16),
                PoolFeatures(ids: pool.ids(.test), values: try all.rows(for: pool.ids(.test)), width: 16))
    }

    /// States compare equal but for how long each phase took.
    func withoutTimings(_ s: ExperimentState) -> ExperimentState {
        var s = s
        for i in s.rounds.indices { s.rounds[i].seconds = [:] }
        return s
    }

    let quickCoOp = TrainerSpec.coop(epochs: 5, learningRate: 1e-3, batchSize: 8, weightDecay: 0.005, contextLength: 4, contextInit: "a photo of a")

    /// Trainer settings saved before CoOp's class-specific option existed still load (as shared context).
    func testTrainerSpecsFromOlderFilesStillDecode() throws {
        let old = #"{"coop":{"epochs":5,"learningRate":0.001,"batchSize":8,"weightDecay":0.005,"contextLength":4,"contextInit":"a photo of a"}}"#
        let spec = try JSONDecoder().decode(TrainerSpec.self, from: Data(old.utf8))
        XCTAssertEqual(spec, .coop(epochs: 5, learningRate: 0.001, batchSize: 8, weightDecay: 0.005, contextLength: 4, contextInit: "a photo of a"))
        let csc = TrainerSpec.coop(epochs: 5, learningRate: 0.001, batchSize: 8, weightDecay: 0.005, contextLength: 4, contextInit: nil, classSpecific: true)
        XCTAssertEqual(try JSONDecoder().decode(TrainerSpec.self, from: JSONEncoder().encode(csc)), csc)
    }

    func testRoundsAreRecordedAndDeterministic() throws {
        let (pool, train, test) = try setup()
        let config = ExperimentConfig(strategy: StrategySpec(name: "cec"), rounds: 3, budget: .percent(5), trainer: quickCoOp, seed: 4)
        func run() throws -> ExperimentState {
            let e = try Experiment(pool: pool, model: Self.model, trainFeatures: train, testFeatures: test, config: config)
            try e.finish()
            return e.state
        }
        let a = try run(), b = try run()
        XCTAssertEqual(a.rounds.map(\.queried), b.rounds.map(\.queried))
        XCTAssertEqual(a.labeled, b.labeled)
        XCTAssertEqual(a.context, b.context)
        XCTAssertEqual(a.rounds.map(\.labelsUsed), [4, 8, 12], "5% of 80, truncated")
        XCTAssertEqual(Set(a.rounds.flatMap(\.queried)).count, 12, "no sample is queried twice")
        XCTAssertTrue(a.rounds.allSatisfy { $0.accuracy >= 0 && $0.accuracy <= 1 && $0.seconds["train"] != nil })
        for (id, label) in a.labeled { XCTAssertEqual(pool.groundTruth(id), label) }
    }

    func testResumeGivesTheSameResultAsAnUninterruptedRun() throws {
        let (pool, train, test) = try setup()
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for trainer in [quickCoOp, .linearProbe, TrainerSpec.none] {
            let config = ExperimentConfig(strategy: StrategySpec(name: "entropy"), rounds: 3, budget: .count(5), trainer: trainer, seed: 9)
            let whole = try Experiment(pool: pool, model: Self.model, trainFeatures: train, testFeatures: test, config: config)
            try whole.finish()
            let first = try Experiment(pool: pool, model: Self.model, trainFeatures: train, testFeatures: test, config: config)
            first.statePath = dir + "/run.json"
            try first.step()
            let saved = try Experiment.loadState(from: dir + "/run.json")
            let resumed = try Experiment(pool: pool, model: Self.model, trainFeatures: train, testFeatures: test, config: config, resumeFrom: saved)
            try resumed.restoreProbe()
            try resumed.finish()
            XCTAssertEqual(withoutTimings(resumed.state), withoutTimings(whole.state), "\(trainer)")
        }
    }

    func testInterruptedLabellingIsNotAskedTwice() throws {
        let (pool, train, test) = try setup()
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = ExperimentConfig(strategy: StrategySpec(name: "margin"), rounds: 1, budget: .count(3), trainer: .none, seed: 2)
        let e = try Experiment(pool: pool, model: Self.model, trainFeatures: train, testFeatures: test, config: config)
        e.journal = try LabelJournal(path: dir + "/labels.journal")
        struct Failing: Error {}
        var asked: [Int] = []
        // The oracle answers, then the round fails later (here: the oracle's second call would fail).
        let human = HumanOracle { ids, pool in asked += ids; return try SimulatedOracle().labels(for: ids, pool: pool) }
        let cancel = CancellationToken()
        _ = cancel
        try e.step(oracle: human)
        XCTAssertEqual(asked.count, 3)
        // The same experiment resumed from before its round: its own answers are taken, silently.
        var reports: [String] = []
        let resumed = try Experiment(pool: pool, model: Self.model, trainFeatures: train, testFeatures: test, config: config,
                                     resumeFrom: { var s = e.state; s.rounds = []; s.labeled = [:]; return s }())
        resumed.journal = e.journal
        resumed.report = { reports.append($0) }
        try resumed.step(oracle: HumanOracle { ids, _ in XCTFail("asked again for \(ids)"); return [:] })
        XCTAssertEqual(resumed.state.labeled, e.state.labeled)
        XCTAssertEqual(reports, [])
        // Another experiment on the same pool: the earlier answers are reused, and it says how many and from where.
        var otherConfig = config
        otherConfig.seed = 3
        let other = try Experiment(pool: pool, model: Self.model, trainFeatures: train, testFeatures: test, config: otherConfig)
        other.journal = e.journal
        other.report = { reports.append($0) }
        try other.step(oracle: HumanOracle { ids, _ in XCTFail("asked again for \(ids)"); return [:] })
        XCTAssertEqual(other.state.labeled, e.state.labeled)
        XCTAssertEqual(reports, ["round 1: reusing 3 earlier answers for this pool's images (3 from \(e.journalSource)); step(reuse: false) asks again"])
        // reuse: false asks again.
        otherConfig.seed = 4
        let refusing = try Experiment(pool: pool, model: Self.model, trainFeatures: train, testFeatures: test, config: otherConfig)
        refusing.journal = e.journal
        refusing.reuseEarlierAnswers = false
        var askedAgain: [Int] = []
        try refusing.step(oracle: HumanOracle { ids, pool in askedAgain += ids; return try SimulatedOracle().labels(for: ids, pool: pool) })
        XCTAssertEqual(askedAgain.sorted(), asked.sorted())
        // A pool of the same name with other images never takes these answers.
        let renamed = try Pool(name: pool.name, classNames: pool.classNames,
                               samples: pool.samples.map { Sample(id: $0.id, path: $0.path + ".other", split: $0.split, label: $0.label) })
        XCTAssertNotEqual(LabelJournal.key(renamed), LabelJournal.key(pool))
        XCTAssertEqual(try e.journal!.replay(pool: LabelJournal.key(renamed)).count, 0)
        XCTAssertEqual(try e.journal!.replay(pool: pool.name).count, 0, "entries are keyed by content, not by name alone")
    }

    /// A skipped answer does not block the round: it runs on the answered ids, records the skips and never
    /// queries them again (issue 12 item 7); an id neither answered nor skipped still stops the round.
    func testSkippedAnswersAreRecordedAndNotAskedAgain() throws {
        let (pool, train, test) = try setup()
        let config = ExperimentConfig(strategy: StrategySpec(name: "entropy"), rounds: 2, budget: .count(4), trainer: .none, seed: 2)
        let e = try Experiment(pool: pool, model: Self.model, trainFeatures: train, testFeatures: test, config: config)
        var reports: [String] = []
        e.report = { reports.append($0) }
        let first = try e.nextQuery().ids
        XCTAssertThrowsError(try e.step(oracle: AnswerSheetOracle(answers: [first[0]: 1]))) { XCTAssertTrue("\($0)".contains("the answers lack 3 of the 4")) }
        XCTAssertEqual(e.state.rounds.count, 0, "nothing changed")
        try e.step(oracle: AnswerSheetOracle(answers: [first[0]: 1, first[1]: 2], skipped: [first[2], first[3]]))
        XCTAssertEqual(Set(e.state.labeled.keys), [first[0], first[1]])
        XCTAssertEqual(Set(e.state.skipped ?? []), [first[2], first[3]])
        XCTAssertEqual(e.state.rounds[0].labelsUsed, 2)
        XCTAssertEqual(reports, ["round 1: 2 of 4 queried images skipped; the round runs on the 2 answered"])
        let second = try e.nextQuery().ids
        XCTAssertTrue(Set(second).isDisjoint(with: first), "skipped and labelled ids are not queried again")
        // Unless the user asks: unskipped ids are candidates again (with a frozen model, the most uncertain again).
        XCTAssertEqual(e.unskip([first[3], 999_999]), [first[3]])
        XCTAssertEqual(e.state.skipped, [first[2]])
        XCTAssertTrue(try e.nextQuery().ids.contains(first[3]))
        XCTAssertEqual(e.unskip(), [first[2]])
        XCTAssertEqual(Set(try e.nextQuery().ids), Set([first[2], first[3]] + second.prefix(2)))
    }

    func testBadConfigurationsAreRejected() throws {
        let (pool, train, test) = try setup()
        func make(_ config: ExperimentConfig) throws { _ = try Experiment(pool: pool, model: Self.model, trainFeatures: train, testFeatures: test, config: config) }
        XCTAssertThrowsError(try make(ExperimentConfig(strategy: StrategySpec(name: "cec"), rounds: 0)))
        XCTAssertThrowsError(try make(ExperimentConfig(strategy: StrategySpec(name: "cec"), rounds: 3, budget: .count(50))))
        XCTAssertThrowsError(try make(ExperimentConfig(strategy: StrategySpec(name: "cec"), budget: .percent(0))))
        XCTAssertThrowsError(try make(ExperimentConfig(strategy: StrategySpec(name: "nope"))))
        var spec = StrategySpec(name: "cec"); spec.kernel = "gaussian"
        XCTAssertThrowsError(try make(ExperimentConfig(strategy: spec)))
    }

    func testComparisonTable() throws {
        let (pool, train, test) = try setup()
        let cmp = try Comparison.run(pool: pool, model: Self.model, trainFeatures: train, testFeatures: test,
                                     strategies: [StrategySpec(name: "random"), StrategySpec(name: "cec")], seeds: 2, masterSeed: 1,
                                     rounds: 2, budget: .count(4), trainer: .linearProbe)
        XCTAssertEqual(cmp.runs.count, 4)
        XCTAssertEqual(cmp.curve("cec").mean.count, 2)
        XCTAssertEqual(cmp.pairedDifference("random")!.mean, [0, 0])
        let table = cmp.table()
        XCTAssertTrue(table.contains("round 2") && table.contains("cec") && table.contains("±"), table)
        // Columns line up: every line has its cells at the same offsets (issue 12 item 23).
        let lines = table.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3)
        let headerEnds = ["round 1", "round 2", "AULC"].map { lines[0].range(of: $0)!.upperBound.utf16Offset(in: lines[0]) }
        for line in lines.dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            XCTAssertEqual(line.utf16.count, lines[0].utf16.count, "every line as wide as the header:\n\(table)")
            XCTAssertTrue(fields.count >= 4, line)
        }
        XCTAssertEqual(headerEnds.last, lines[0].utf16.count, "AULC ends the header line")
        // The Markdown form has the same cells: a header, a rule and a row per strategy with the text's numbers.
        let markdown = cmp.markdownTable().split(separator: "\n").map(String.init)
        XCTAssertEqual(markdown.count, 4)
        // Rounds read as labels, cumulative percent of the training pool and labels per class.
        XCTAssertEqual(cmp.roundHeader(0), "round 1: 4 (5.0%, 1.0/class)")
        XCTAssertEqual(markdown[0], "| strategy | round 1: 4 (5.0%, 1.0/class) | round 2: 8 (10.0%, 2.0/class) | AULC |")
        XCTAssertEqual(markdown[1], "| --- | --- | --- | --- |")
        let c = cmp.curve("cec")
        XCTAssertEqual(markdown[3], "| cec | " + (0..<2).map { String(format: "%.1f ± %.1f", 100 * c.mean[$0], 100 * c.sd[$0]) }.joined(separator: " | ")
                       + String(format: " | %.1f |", 100 * cmp.areaUnderCurve("cec")))
        XCTAssertEqual(Comparison.childSeeds(master: 1, count: 2), cmp.seeds)
        XCTAssertFalse(cmp.isPartial)
        XCTAssertNil(cmp.partialNote)
    }

    /// A comparison cancelled part-way keeps the runs it finished, marked partial, with the same numbers those runs
    /// have in the full comparison; the run cut short is dropped; cancelled before any run finished, it throws
    /// (issue 12 item 20).
    func testCancelledComparisonKeepsItsFinishedRuns() throws {
        let (pool, train, test) = try setup()
        let strategies = [StrategySpec(name: "random"), StrategySpec(name: "entropy")]
        func run(cancelAfter rounds: Int?) throws -> Comparison {
            let token = CancellationToken()
            var seen = 0
            return try Comparison.run(pool: pool, model: Self.model, trainFeatures: train, testFeatures: test, strategies: strategies,
                                      seeds: 2, masterSeed: 3, rounds: 2, budget: .count(4), trainer: .linearProbe,
                                      progress: { message in
                                          if message.contains("accuracy") { seen += 1 }
                                          if let rounds, seen == rounds { token.cancel() }
                                      }, cancel: token)
        }
        let full = try run(cancelAfter: nil)
        // Three rounds done: the first run (2 rounds) is complete, the second is cut after its first round.
        let partial = try run(cancelAfter: 3)
        XCTAssertTrue(partial.isPartial)
        XCTAssertEqual(partial.runs.count, 1)
        XCTAssertEqual(partial.plannedRuns, 4)
        XCTAssertEqual(partial.strategies, ["random"])
        XCTAssertEqual(partial.runs[0].rounds.map(\.accuracy), full.runs[0].rounds.map(\.accuracy))
        XCTAssertEqual(partial.runs[0].rounds.map(\.queried), full.runs[0].rounds.map(\.queried))
        XCTAssertEqual(partial.partialNote, "partial: 1 of 4 runs finished (interrupted)")
        XCTAssertTrue(partial.table().hasSuffix("(partial: 1 of 4 runs finished (interrupted))\n"), partial.table())
        XCTAssertTrue(partial.markdownTable().contains("*partial: 1 of 4 runs finished (interrupted)*"))
        XCTAssertThrowsError(try run(cancelAfter: 1)) { XCTAssertEqual(($0 as? EngineError)?.kind, .cancelled) }
    }
}
