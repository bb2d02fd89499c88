import AlvlmTestSupport
import XCTest
@testable import AlvlmEngine

final class CoOpTrainerTests: XCTestCase {
    static let model = try! CLIPModel.load(directory: Fixtures.path("tiny-clip"))
    let names = ["banded", "honeycombed", "polka_dotted"]

    func data(_ n: Int, seed: UInt64 = 1) -> TrainingSet {
        var rng = SeededRandom(seed: seed)
        return TrainingSet(features: rng.normals(n * 16, std: 1), labels: (0..<n).map { $0 % 3 })
    }

    func testScheduleIsWarmupThenCosine() {
        var o = TrainerOptions()
        o.epochs = 200
        XCTAssertEqual(o.learningRate(epoch: 0), 1e-5)
        XCTAssertEqual(o.learningRate(epoch: 1), 0.002, accuracy: 1e-12)
        XCTAssertEqual(o.learningRate(epoch: 101), 0.001, accuracy: 1e-12)
        XCTAssertEqual(o.learningRate(epoch: 199), 0.001 * (1 + cos(Double.pi * 198 / 200)), accuracy: 1e-12)
    }

    func testTrainingLowersLossAndIsReproducible() throws {
        var o = TrainerOptions()
        o.epochs = 15; o.batchSize = 8; o.learningRate = 0.5; o.seed = 3
        func run() throws -> ([EpochReport], [Float]) {
            let learner = try PromptLearner(model: Self.model, classNames: names)
            let r = try CoOpTrainer.train(learner, on: data(20), options: o)
            return (r, learner.context)
        }
        let (a, ctxA) = try run(), (b, ctxB) = try run()
        XCTAssertEqual(ctxA, ctxB)
        XCTAssertEqual(a.map(\.loss), b.map(\.loss))
        XCTAssertLessThan(a.last!.loss, a[1].loss)
        XCTAssertEqual(a[0].steps, 2, "20 samples, batch 8, drop_last: 2 steps")
        let small = try CoOpTrainer.train(try PromptLearner(model: Self.model, classNames: names), on: data(5), options: o)
        XCTAssertEqual(small[0].steps, 1, "fewer samples than a batch: one partial batch")
    }

    func testCancellationStopsBetweenSteps() throws {
        let token = CancellationToken()
        var o = TrainerOptions()
        o.epochs = 50; o.batchSize = 4
        let learner = try PromptLearner(model: Self.model, classNames: names)
        var epochs = 0
        XCTAssertThrowsError(try CoOpTrainer.train(learner, on: data(12), options: o, cancel: token) { r in
            epochs = r.epoch
            if r.epoch == 2 { token.cancel() }
        }) { error in XCTAssertEqual((error as? EngineError)?.kind, .cancelled) }
        XCTAssertEqual(epochs, 2)
    }

    func testBadInputIsRejectedBeforeWork() throws {
        let learner = try PromptLearner(model: Self.model, classNames: names)
        let before = learner.context
        var o = TrainerOptions()
        func expect(_ set: TrainingSet, _ options: TrainerOptions, _ text: String) {
            XCTAssertThrowsError(try CoOpTrainer.train(learner, on: set, options: options)) { XCTAssertTrue("\($0)".contains(text), "\($0)") }
        }
        expect(TrainingSet(features: [], labels: []), o, "empty")
        expect(TrainingSet(features: data(2).features, labels: [0, 3]), o, "label 3")
        expect(TrainingSet(features: [Float](repeating: 0, count: 30), labels: [0, 1]), o, "width")
        expect(TrainingSet(features: [Float](repeating: .nan, count: 32), labels: [0, 1]), o, "NaN")
        o.epochs = 0
        expect(data(3), o, "epochs")
        o.epochs = 1; o.batchSize = 0
        expect(data(3), o, "batch")
        XCTAssertEqual(learner.context, before)
        XCTAssertThrowsError(try PromptLearner(model: Self.model, classNames: names, options: PromptOptions(contextLength: 3)))
        XCTAssertThrowsError(try PromptLearner(model: Self.model, classNames: [String(repeating: "very long name ", count: 30)])) {
            XCTAssertTrue("\($0)".contains("tokens"), "\($0)")
        }
    }

    func testNonFiniteLossKeepsPreviousContext() throws {
        let learner = try PromptLearner(model: Self.model, classNames: names)
        var o = TrainerOptions()
        o.epochs = 30; o.batchSize = 12; o.learningRate = 1e30
        XCTAssertThrowsError(try CoOpTrainer.train(learner, on: data(12), options: o)) { error in
            XCTAssertEqual((error as? EngineError)?.kind, .numeric)
            XCTAssertTrue("\(error)".contains("epoch"))
        }
        XCTAssertTrue(learner.context.allSatisfy(\.isFinite))
    }
}

final class EvaluationTests: XCTestCase {
    func testMetricsByHand() throws {
        // 4 samples, 2 classes.
        let p: [Float] = [0.95, 0.05, 0.65, 0.35, 0.25, 0.75, 0.85, 0.15]
        let e = try Evaluation(probabilities: p, labels: [0, 1, 1, 1], classes: 2, bins: 10)
        XCTAssertEqual(e.accuracy, 0.5)
        XCTAssertEqual(e.confusion, [[1, 0], [2, 1]])
        XCTAssertEqual(e.perClassAccuracy[0]!, 1); XCTAssertEqual(e.perClassAccuracy[1]!, 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(e.predictedHistogram, [3, 1])
        // One per bin: 0.95 correct, 0.65 wrong, 0.75 correct, 0.85 wrong.
        XCTAssertEqual(e.expectedCalibrationError, (0.05 + 0.65 + 0.25 + 0.85) / 4, accuracy: 1e-6)
        XCTAssertThrowsError(try Evaluation(probabilities: p, labels: [0, 1, 2, 1], classes: 2))
    }
}
