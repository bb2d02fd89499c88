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
}
