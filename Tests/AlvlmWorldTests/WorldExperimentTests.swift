import AlvlmTestSupport
import XCTest
@testable import AlvlmActive
@testable import AlvlmEngine
@testable import AlvlmWorld

/// Experiments on the texture world with the tiny CLIP: what needs real pixels and a trained model.
final class WorldExperimentTests: XCTestCase {
    func withoutTimings(_ s: ExperimentState) -> ExperimentState {
        var s = s
        for i in s.rounds.indices { s.rounds[i].seconds = [:] }
        return s
    }

    /// The tiny CLIP carries its own recommended trainers; other models get the paper's.
    func testTheTinyCLIPRecommendsItsOwnTrainers() throws {
        let tiny = try TinyCLIP.load()
        XCTAssertEqual(TinyCLIP.recommendation(for: tiny), TinyCLIP.recommended)
        guard case .coop(_, _, _, _, _, _, let classSpecific) = TinyCLIP.recommended.coop else { return XCTFail("CoOp expected") }
        XCTAssertEqual(classSpecific, true)
        XCTAssertNotEqual(TinyCLIP.recommended.imagePrompts(.maple), ImagePromptSpec(.maple))
        XCTAssertEqual(TinyCLIP.recommended.imagePrompts(.vpt), ImagePromptSpec(.vpt))
        XCTAssertNil(TinyCLIP.recommendation(for: try CLIPModel.random("tiny-test")))
        XCTAssertEqual(Recommendation.paper.coop, TrainerSpec.paper)
    }

    /// VPT and MaPLe in an experiment: trained on the labelled images' pixels, the pool encoded again under the new
    /// prompts (the evaluation equals the learner's own predictions on the test images), deterministic, resumable.
    func testImagePromptExperimentsTrainOnPixelsAndResume() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var world = TextureWorld(seed: 1)
        world.trainSize = 40; world.valSize = 0; world.testPerClass = 1
        let pool = try world.pool(directory: dir + "/pool")
        let model = try TinyCLIP.load()
        let train = try PoolFeatures.compute(pool: pool, ids: pool.ids(.train), model: model, cache: nil)
        let test = try PoolFeatures.compute(pool: pool, ids: pool.ids(.test), model: model, cache: nil)
        for method in [PromptMethod.vpt, .maple] {
            var spec = ImagePromptSpec(method)
            spec.epochs = 2; spec.batchSize = 4; spec.contextLength = 2; spec.depth = 2; spec.learningRate = 0.01; spec.views = 2
            let config = ExperimentConfig(strategy: StrategySpec(name: "entropy"), rounds: 2, budget: .count(6), trainer: .imagePrompts(spec), seed: 3)
            let whole = try Experiment(pool: pool, model: model, trainFeatures: train, testFeatures: test, config: config)
            try whole.finish()
            let state = whole.state
            let learner = try whole.imageLearner(spec, values: XCTUnwrap(state.context))
            XCTAssertEqual(state.context?.count, learner.tensors.values.count)
            XCTAssertNotEqual(state.context, try whole.imageLearner(spec, seed: whole.seed(round: 2, purpose: "init")).tensors.values,
                              "\(method): training moved the prompts")
            // The recorded accuracy is the trained learner's on the test images' pixels.
            let pixels = try pool.pixels(test.ids, views: 0, seed: 0, preprocessor: Preprocessor(config: model.config))
            let logits = try learner.logits(pixels, count: test.ids.count)
            let labels = try pool.evaluationLabels(test.ids)
            let correct = labels.indices.filter { i in
                let row = logits[(i * pool.classes)..<((i + 1) * pool.classes)]
                return row.indices.max(by: { row[$0] < row[$1] })! - i * pool.classes == labels[i]
            }.count
            XCTAssertEqual(state.rounds.last!.accuracy, Double(correct) / Double(labels.count), accuracy: 1e-12, "\(method)")
            // Round 2 selected on the prompted features: resuming (which encodes the pool under the saved prompts)
            // gives the uninterrupted run exactly.
            let first = try Experiment(pool: pool, model: model, trainFeatures: train, testFeatures: test, config: config)
            first.statePath = dir + "/\(method).json"
            try first.step()
            let resumed = try Experiment(pool: pool, model: model, trainFeatures: train, testFeatures: test, config: config,
                                         resumeFrom: try Experiment.loadState(from: dir + "/\(method).json"))
            try resumed.finish()
            XCTAssertEqual(withoutTimings(resumed.state), withoutTimings(state), "\(method)")
        }
    }

    /// An oracle that answers like the simulated one and remembers every id it was asked about.
    final class CountingOracle: Oracle {
        var asked: [Int] = []
        func labels(for ids: [Int], pool: Pool) throws -> [Int: Int] {
            asked += ids
            return try SimulatedOracle().labels(for: ids, pool: pool)
        }
    }

    /// Pseudo-labels never come from the oracle: it is asked exactly for the queries selective querying did not
    /// label itself, and agreement pseudo-labels are samples it was never asked about.
    func testPseudoLabellingNeverAsksTheOracle() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var world = TextureWorld(seed: 4)
        world.trainSize = 300; world.valSize = 0; world.testPerClass = 2
        let pool = try world.pool(directory: dir + "/pool")
        let model = try TinyCLIP.load()
        let train = try PoolFeatures.compute(pool: pool, ids: pool.ids(.train), model: model, cache: nil)
        let test = try PoolFeatures.compute(pool: pool, ids: pool.ids(.test), model: model, cache: nil)
        for pseudo in [PseudoLabelling.selectiveQuerying, .agreement(views: 2, threshold: 0.5)] {
            var config = ExperimentConfig(strategy: StrategySpec(name: "random"), rounds: 3, budget: .count(20), trainer: .linearProbe, seed: 5)
            config.pseudo = pseudo
            let e = try Experiment(pool: pool, model: model, trainFeatures: train, testFeatures: test, config: config)
            let oracle = CountingOracle()
            try e.finish(oracle: oracle)
            let queried = e.state.rounds.flatMap(\.queried)
            let selfLabelled = e.state.pseudoLabeled ?? [:]
            XCTAssertEqual(Set(oracle.asked), Set(queried).subtracting(selfLabelled.keys), "\(pseudo)")
            XCTAssertEqual(oracle.asked.count, Set(oracle.asked).count, "nobody is asked twice")
            XCTAssertTrue(Set(oracle.asked).isDisjoint(with: selfLabelled.keys))
            XCTAssertEqual(e.state.rounds.map { $0.labelsSaved ?? -1 }.reduce(0, +), selfLabelled.count)
            XCTAssertEqual(e.state.rounds.last?.labelsUsed, oracle.asked.count, "labels used count the oracle's only")
            for r in e.state.rounds {
                XCTAssertNotNil(r.pseudoLabels)
                XCTAssertLessThanOrEqual(r.pseudoCorrect ?? 0, r.pseudoLabels ?? 0)
            }
            switch pseudo {
            case .selectiveQuerying:
                XCTAssertEqual(e.state.rounds[0].labelsSaved, 0, "no thresholds before any label")
                XCTAssertGreaterThan(selfLabelled.count, 0, "random picks include confident samples once thresholds exist")
            case .agreement:
                XCTAssertTrue(selfLabelled.isEmpty)
                XCTAssertGreaterThan(e.state.rounds[0].pseudoLabels ?? 0, 0)
            }
        }
    }
}
