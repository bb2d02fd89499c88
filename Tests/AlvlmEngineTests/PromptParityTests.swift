import AlvlmTestSupport
import XCTest
@testable import AlvlmEngine

/// VPT-deep and MaPLe against a PyTorch float32 implementation of the official code's mathematics
/// (Scripts/make_prompt_fixtures.py): logits, every tensor's initial gradient, the loss of every full-batch epoch and
/// the trained tensors, on random-weight models with QuickGELU and GELU at two depths; zero prompts as zero-shot
/// CLIP; finite differences of the learners' own losses; and the command line as users (and parity checks) call it.
final class PromptParityTests: XCTestCase {
    static let models = ["tiny-clip", "tiny-clip-f16-gelu"].reduce(into: [String: CLIPModel]()) {
        $0[$1] = try! CLIPModel.load(directory: Fixtures.path($1))
    }
    static let cases = ["vpt_quick_d1", "vpt_quick_d2", "vpt_gelu_d2", "vpt_gelu_d1",
                        "maple_quick_d1", "maple_quick_d2", "maple_gelu_d2", "maple_gelu_d1"]
    static let labels = [0, 1, 2, 3, 4, 0, 2, 4]

    /// The fixtures' pixels: ((i · 2654435761) mod 2³² >> 22) / 256 − 2 over the flat index of (n, 3, S, S).
    static func pixels(_ n: Int, size s: Int) -> [Float] {
        (0..<(n * 3 * s * s)).map { i in Float(((UInt64(i) &* 2654435761) & 0xFFFF_FFFF) >> 22) / 256 - 2 }
    }

    static func names() throws -> [String] {
        try String(contentsOfFile: Fixtures.path("coop/classnames.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
    }

    struct Case {
        let dir: String, method: PromptMethod, model: CLIPModel, modelName: String, lr: Double, epochs: Int, weightDecay: Double, momentum: Double
        init(_ name: String) throws {
            dir = "prompts/" + name + "/"
            let meta = try XCTUnwrap(try Fixtures.json(dir + "meta.json") as? [String: Any])
            method = PromptMethod(rawValue: meta["method"] as! String)!
            modelName = meta["model"] as! String
            model = PromptParityTests.models[modelName]!
            lr = (meta["lr"] as! NSNumber).doubleValue
            epochs = (meta["epochs"] as! NSNumber).intValue
            weightDecay = (meta["weight_decay"] as! NSNumber).doubleValue
            momentum = (meta["momentum"] as! NSNumber).doubleValue
        }
        func learner(_ file: String = "init.safetensors") throws -> ImagePromptLearner {
            let names = try PromptParityTests.names()
            return method == .vpt ? try VPTLearner(model: model, classNames: names, prompts: Fixtures.path(dir + file))
                : try MaPLeLearner(model: model, classNames: names, prompts: Fixtures.path(dir + file))
        }
        var pixels: [Float] { PromptParityTests.pixels(PromptParityTests.labels.count, size: model.config.imageSize) }
        func tensors(_ file: String) throws -> [String: [Float]] {
            let f = try SafetensorsFile(path: Fixtures.path(dir + file))
            return try f.entries.keys.reduce(into: [:]) { $0[$1] = try f.floats($1) }
        }
        /// ‖a − b‖ over all tensors.
        func distance(_ a: [String: [Float]], _ b: [String: [Float]]) -> Double {
            var sum = 0.0
            for (k, x) in a { for (u, v) in zip(x, b[k]!) { let d = Double(u) - Double(v); sum += d * d } }
            return sum.squareRoot()
        }
    }

    func testLogitsGradientsAndTrainingMatchAutograd() throws {
        for name in Self.cases {
            let c = try Case(name), learner = try c.learner(), pixels = c.pixels, n = Self.labels.count
            // Logits, exp(logit_scale) included: within 1e-4 relative.
            let logits = try learner.logits(pixels, count: n, batch: 3)
            let reference = try NPY.read(Fixtures.path(c.dir + "logits_init.npy")).floats()
            XCTAssertLessThan(Double(maxAbsDifference(logits, reference)), 1e-4 * Double(reference.map(abs).max()!), name)
            // Every tensor's gradient: within 1e-4 of its scale.
            let (_, gradient) = learner.lossAndGradient(pixels: pixels, labels: Self.labels)
            let expected = try c.tensors("grad_init.safetensors")
            XCTAssertEqual(Set(expected.keys), Set(learner.tensors.tensors.map(\.name)), name)
            for t in learner.tensors.tensors {
                let ours = Array(gradient[t.range]), theirs = expected[t.name]!
                let scale = Double(theirs.map(abs).max()!)
                XCTAssertGreaterThan(scale, 0, "\(name) \(t.name): the reference gradient is not zero")
                XCTAssertLessThan(Double(maxAbsDifference(ours, theirs)), 1e-4 * scale, "\(name) \(t.name)")
            }
            // Full-batch training: every epoch's loss within 1e-5; the tensors within 1% of how far training moved them.
            var options = TrainerOptions()
            options.epochs = c.epochs; options.learningRate = c.lr; options.weightDecay = c.weightDecay; options.momentum = c.momentum
            options.batchSize = n; options.shuffle = false
            let reports = try learner.train(on: TrainingImages(pixels: pixels, labels: Self.labels), options: options)
            let losses = try XCTUnwrap(try Fixtures.json(c.dir + "losses.json") as? [NSNumber]).map(\.doubleValue)
            XCTAssertEqual(reports.count, losses.count)
            for (r, l) in zip(reports, losses) { XCTAssertEqual(r.loss, l, accuracy: 1e-5, "\(name) epoch \(r.epoch)") }
            let initial = try c.tensors("init.safetensors"), final = try c.tensors("final.safetensors")
            let ours = Dictionary(uniqueKeysWithValues: learner.tensors.tensors.map { ($0.name, learner.tensors[$0.name]) })
            let moved = c.distance(final, initial), error = c.distance(ours, final)
            XCTAssertLessThan(error, 0.01 * moved, "\(name): error \(error), moved \(moved)")
        }
    }

    func testZeroPromptsAreZeroShotCLIP() throws {
        let names = try Self.names()
        for name in ["vpt_quick_d2", "maple_gelu_d2"] {
            let c = try Case(name), n = Self.labels.count, pixels = c.pixels
            let learner: ImagePromptLearner = c.method == .vpt
                ? try VPTLearner(model: c.model, classNames: names, contextLength: 0, depth: 2)
                : try MaPLeLearner(model: c.model, classNames: names, contextLength: 0, depth: 2)
            let logits = try learner.logits(pixels, count: n)
            let reference = try NPY.read(Fixtures.path(c.dir + "zero_logits.npy")).floats()
            XCTAssertLessThan(Double(maxAbsDifference(logits, reference)), 1e-4 * Double(reference.map(abs).max()!), name)
            // The same as the plain zero-shot path of the engine.
            let zeroShot = try Classifier.zeroShot(model: c.model, classNames: names)
            let plain = PromptObjective.logits(images: c.model.encodeImages(pixels, count: n), texts: zeroShot.rawTextFeatures,
                                               width: c.model.config.embedDim, logitScale: c.model.logitScale)
            XCTAssertLessThan(Double(maxAbsDifference(logits, plain)), 1e-5 * Double(plain.map(abs).max()!), name)
        }
    }

    /// The learners' gradients against central differences of their own losses, a few coordinates of every tensor.
    func testLossGradientsMatchFiniteDifferences() throws {
        let names = try Self.names(), model = Self.models["tiny-clip"]!
        let pixels = Self.pixels(3, size: model.config.imageSize), labels = [1, 3, 4]
        var rng = SeededRandom(seed: 5)
        let learners: [ImagePromptLearner] = [
            try VPTLearner(model: model, classNames: names, contextLength: 2, depth: 2, seed: 3),
            try MaPLeLearner(model: model, classNames: names, contextLength: 2, depth: 2, seed: 4),
        ]
        for learner in learners {
            // Prompts large enough that the loss responds well above float32 rounding.
            learner.tensors.values = learner.tensors.values.map { $0 * 10 }
            let start = learner.tensors.values
            let (_, gradient) = learner.lossAndGradient(pixels: pixels, labels: labels)
            for t in learner.tensors.tensors {
                var worst = 0.0, scale = 1e-12
                for _ in 0..<3 {
                    let i = t.offset + Int(rng.next() % UInt64(t.count)), h: Float = 5e-3
                    learner.tensors.values = start; learner.tensors.values[i] += h
                    let plus = learner.lossAndGradient(pixels: pixels, labels: labels).loss
                    learner.tensors.values = start; learner.tensors.values[i] -= h
                    let minus = learner.lossAndGradient(pixels: pixels, labels: labels).loss
                    let numeric = (plus - minus) / Double(2 * h)
                    worst = max(worst, abs(numeric - Double(gradient[i]))); scale = max(scale, abs(numeric), Double(gradient[t.range].map(abs).max()!))
                }
                learner.tensors.values = start
                XCTAssertLessThan(worst / scale, 3e-2, "\(learner.method) \(t.name)")
            }
        }
    }

    func testCommandLineTrainsAndPredictsAsTheReference() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let labelsPath = tmp + "/labels.txt"
        try (Self.labels.map(String.init).joined(separator: "\n") + "\n").write(toFile: labelsPath, atomically: true, encoding: .utf8)
        for name in ["vpt_gelu_d2", "maple_quick_d2"] {
            let c = try Case(name), n = Self.labels.count
            let pixelsPath = tmp + "/\(name).npy"
            try NPY.write(c.pixels, shape: [n, 3, c.model.config.imageSize, c.model.config.imageSize], to: pixelsPath)
            let out = tmp + "/\(name).safetensors"
            let common = ["--model", Fixtures.path(c.modelName), "--pixels", pixelsPath, "--classnames", Fixtures.path("coop/classnames.txt")]
            let r = try runAlvlm([c.method.rawValue] + common + ["--labels", labelsPath, "--init", Fixtures.path(c.dir + "init.safetensors"),
                                 "--epochs", "\(c.epochs)", "--batch", "\(n)", "--lr", "\(c.lr)", "--momentum", "\(c.momentum)",
                                 "--weight-decay", "\(c.weightDecay)", "--no-shuffle", "--out", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            let printed = r.stdout.split(separator: "\n").map { Double($0.split(separator: " ")[3])! }
            let losses = try XCTUnwrap(try Fixtures.json(c.dir + "losses.json") as? [NSNumber]).map(\.doubleValue)
            XCTAssertEqual(printed.count, losses.count, name)
            for (a, b) in zip(printed, losses) { XCTAssertEqual(a, b, accuracy: 1e-5, name) }
            let initial = try c.tensors("init.safetensors"), final = try c.tensors("final.safetensors")
            let f = try SafetensorsFile(path: out)
            let ours = try f.entries.keys.reduce(into: [String: [Float]]()) { $0[$1] = try f.floats($1) }
            XCTAssertEqual(Set(ours.keys), Set(final.keys), name)
            XCTAssertLessThan(c.distance(ours, final), 0.01 * c.distance(final, initial), name)
            // Logits of the reference's initial prompts.
            let logitsPath = tmp + "/\(name)-logits.npy"
            let l = try runAlvlm(["logits", "--method", c.method.rawValue] + common + ["--params", Fixtures.path(c.dir + "init.safetensors"), "--out", logitsPath])
            XCTAssertEqual(l.status, 0, l.stderr)
            let logits = try NPY.read(logitsPath), reference = try NPY.read(Fixtures.path(c.dir + "logits_init.npy")).floats()
            XCTAssertEqual(logits.shape, [n, 5])
            XCTAssertLessThan(Double(maxAbsDifference(logits.floats(), reference)), 1e-4 * Double(reference.map(abs).max()!), name)
        }
        // Sizes that contradict the --init file, and a file of the other method, are refused with the reason.
        let c = try Case("vpt_quick_d2")
        let pixelsPath = tmp + "/vpt_gelu_d2.npy"
        let base = ["--model", Fixtures.path(c.modelName), "--pixels", pixelsPath, "--classnames", Fixtures.path("coop/classnames.txt"),
                    "--labels", labelsPath, "--out", tmp + "/x.safetensors"]
        let mismatch = try runAlvlm(["vpt"] + base + ["--init", Fixtures.path(c.dir + "init.safetensors"), "--n-ctx", "5"])
        XCTAssertEqual(mismatch.status, 1)
        XCTAssertTrue(mismatch.stderr.contains("--n-ctx 5 does not match"), mismatch.stderr)
        let wrong = try runAlvlm(["maple"] + base + ["--init", Fixtures.path(c.dir + "init.safetensors")])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("text_ctx"), wrong.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp + "/x.safetensors"))
    }
}
