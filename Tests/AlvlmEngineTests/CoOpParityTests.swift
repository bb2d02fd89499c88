import AlvlmTestSupport
import XCTest
@testable import AlvlmEngine

/// CoOp against PyTorch autograd (Scripts/make_coop_fixtures.py): prompts, initial gradient, the loss
/// curve and the final context of full-batch, no-shuffle training; zero-shot probabilities.
final class CoOpParityTests: XCTestCase {
    static let model = try! CLIPModel.load(directory: Fixtures.path("tiny-clip"))

    func shared() throws -> (features: [Float], labels: [Int], names: [String]) {
        let features = try NPY.read(Fixtures.path("coop/features.npy")).floats()
        let labels = try String(contentsOfFile: Fixtures.path("coop/labels.txt"), encoding: .utf8).split(separator: "\n").map { Int($0)! }
        let names = try String(contentsOfFile: Fixtures.path("coop/classnames.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
        return (features, labels, names)
    }

    func testTrainingMatchesAutograd() throws {
        let (features, labels, names) = try shared()
        for name in ["generic_init", "csc_middle_random", "generic_front_random"] {
            let dir = "coop/" + name + "/"
            let meta = try XCTUnwrap(try Fixtures.json(dir + "meta.json") as? [String: Any])
            let phrase = meta["ctx_init"] as? String
            let options = PromptOptions(contextLength: (meta["n_ctx"] as! NSNumber).intValue, contextInit: phrase,
                                        classPosition: PromptOptions.ClassPosition(rawValue: meta["class_position"] as! String)!,
                                        classSpecific: meta["csc"] as! Bool)
            let learner = try PromptLearner(model: Self.model, classNames: names, options: options)
            let slots = try XCTUnwrap(meta["slots"] as? [[NSNumber]]).map { $0.map(\.intValue) }
            XCTAssertEqual(learner.slots.map { $0 + [Int](repeating: 0, count: learner.tokens - $0.count) }, slots, name)
            let initial = try NPY.read(Fixtures.path(dir + "ctx_init.npy")).floats()
            if phrase != nil { XCTAssertLessThan(maxAbsDifference(learner.context, initial), 1e-7, "\(name): init from the phrase") }
            learner.context = initial

            let e = 16
            let textInit = try NPY.read(Fixtures.path(dir + "text_features_init.npy")).floats()
            let ours = learner.textFeatures()
            for k in 0..<names.count {
                XCTAssertGreaterThanOrEqual(cosine(ours[(k * e)..<((k + 1) * e)], textInit[(k * e)..<((k + 1) * e)]), 0.99999, name)
            }
            let (_, grad) = learner.lossAndGradient(imageFeatures: features, labels: labels)
            let gradRef = try NPY.read(Fixtures.path(dir + "grad_init.npy")).floats()
            XCTAssertLessThan(Double(maxAbsDifference(grad, gradRef)), 1e-4 * Double(gradRef.map(abs).max()!), name)

            var trainer = TrainerOptions()
            trainer.epochs = (meta["epochs"] as! NSNumber).intValue
            trainer.learningRate = (meta["base_lr"] as! NSNumber).doubleValue
            trainer.weightDecay = (meta["weight_decay"] as! NSNumber).doubleValue
            trainer.momentum = (meta["momentum"] as! NSNumber).doubleValue
            trainer.batchSize = (meta["batch_size"] as! NSNumber).intValue
            trainer.shuffle = false
            let reports = try CoOpTrainer.train(learner, on: TrainingSet(features: features, labels: labels), options: trainer)
            let losses = try XCTUnwrap(try Fixtures.json(dir + "losses.json") as? [NSNumber]).map(\.doubleValue)
            for (r, l) in zip(reports, losses) { XCTAssertEqual(r.loss, l, accuracy: 1e-5, "\(name) epoch \(r.epoch)") }
            // The final context: off by at most 1% of how far training moved it.
            let final = try NPY.read(Fixtures.path(dir + "ctx_final.npy")).floats()
            let moved = sqrt(zip(final, initial).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +))
            let error = sqrt(zip(final, learner.context).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +))
            XCTAssertLessThan(error, 0.01 * moved, "\(name): error \(error), moved \(moved)")
            let textFinal = try NPY.read(Fixtures.path(dir + "text_features_final.npy")).floats()
            let after = learner.textFeatures()
            for k in 0..<names.count {
                XCTAssertGreaterThanOrEqual(cosine(after[(k * e)..<((k + 1) * e)], textFinal[(k * e)..<((k + 1) * e)]), 0.99999, name)
            }
        }
    }

    func testZeroShotMatchesReference() throws {
        let (features, _, names) = try shared()
        let single = try Classifier.zeroShot(model: Self.model, classNames: names)
        let p = try single.probabilities(features)
        let ref = try NPY.read(Fixtures.path("coop/zeroshot/probabilities.npy")).floats()
        XCTAssertLessThan(maxAbsDifference(p, ref), 1e-5)
        let predictions = try String(contentsOfFile: Fixtures.path("coop/zeroshot/predictions.txt"), encoding: .utf8)
            .split(separator: "\n").map { Int($0)! }
        let ours = (0..<predictions.count).map { r in (0..<names.count).max { p[r * names.count + $0] < p[r * names.count + $1] }! }
        XCTAssertEqual(ours, predictions)
        let ensemble = try Classifier.zeroShot(model: Self.model, classNames: names,
                                               templates: ["a photo of a {}.", "a {} texture.", "itap of a {}."])
        let refEnsemble = try NPY.read(Fixtures.path("coop/zeroshot/probabilities_ensemble.npy")).floats()
        XCTAssertLessThan(maxAbsDifference(try ensemble.probabilities(features), refEnsemble), 1e-5)
    }
}
