import AlvlmActive
import AlvlmEngine
import AlvlmKernels
import Foundation

/// The tiny CLIP of the embedded texture world: its architecture, and contrastive pretraining on the world's
/// pretraining distribution with the engine's own backward pass and AdamW.
public enum TinyCLIP {
    /// "tiny": the shipped model; "tiny-smoke": a very small one for tests of the training command.
    public static func architecture(_ name: String, vocabularySize: Int) -> CLIPConfig? {
        switch name {
        case "tiny":
            return CLIPConfig(vision: TowerShape(width: 128, layers: 4, heads: 4, mlp: 512), imageSize: 64, patchSize: 8,
                              text: TowerShape(width: 128, layers: 3, heads: 4, mlp: 512),
                              contextLength: 32, vocabSize: vocabularySize, embedDim: 128)
        case "tiny-smoke":
            return CLIPConfig(vision: TowerShape(width: 32, layers: 1, heads: 2, mlp: 64), imageSize: 32, patchSize: 8,
                              text: TowerShape(width: 32, layers: 1, heads: 2, mlp: 64),
                              contextLength: 32, vocabSize: vocabularySize, embedDim: 32)
        default: return nil
        }
    }
    public static let architectureNames = ["tiny", "tiny-smoke"]

    /// The shipped model's folder inside the engine's resources (trained by `Scripts/pretrain_tiny.sh`).
    public static var shippedDirectory: String? {
        guard let base = Bundle.module.resourceURL?.appendingPathComponent("tiny-clip").path,
              FileManager.default.fileExists(atPath: (base as NSString).appendingPathComponent("model.safetensors")) else { return nil }
        return base
    }

    /// Loads the shipped tiny CLIP.
    public static func load() throws -> CLIPModel {
        guard let dir = shippedDirectory else {
            throw EngineError(.io, "the tiny CLIP is not in this build's resources (Sources/AlvlmWorld/Resources/tiny-clip; Scripts/pretrain_tiny.sh trains it)")
        }
        return try CLIPModel.load(directory: dir)
    }

    /// The prompt used for zero-shot evaluation (and the notebooks' default template).
    public static let template = "a photo of a {} texture."
    /// Target test images in the fixed check set whose zero-shot accuracy `training.json` records.
    public static let checkSetSize = 200

    public struct Options: Codable, Equatable, Sendable {
        public var architecture = "tiny"
        public var steps = 4000
        public var batchSize = 128
        public var learningRate = 1e-3
        public var warmupSteps = 200
        public var weightDecay = 0.1
        public var seed: UInt64 = 0
        /// Evaluate zero-shot accuracy (and write a checkpoint) every this many steps.
        public var evaluateEvery = 250
        /// Images per domain in the periodic evaluation.
        public var evaluationSize = 400
        public init() {}

        public func validate() throws {
            guard TinyCLIP.architecture(architecture, vocabularySize: 1) != nil else {
                throw EngineError(.argument, "unknown architecture \(architecture) (known: \(TinyCLIP.architectureNames.joined(separator: ", ")))")
            }
            guard steps >= 1, batchSize >= 2, warmupSteps >= 0, evaluateEvery >= 1, evaluationSize >= TextureWorld.classes.count else {
                throw EngineError(.argument, "steps and the evaluation interval must be positive, the batch at least 2, and the evaluation set at least one image per class")
            }
            guard learningRate > 0, learningRate.isFinite, weightDecay >= 0 else { throw EngineError(.argument, "learning rate must be positive, weight decay non-negative") }
        }

        /// Linear warm-up, then cosine decay to zero.
        public func learningRate(step: Int) -> Double {
            if step < warmupSteps { return learningRate * Double(step + 1) / Double(warmupSteps) }
            let progress = Double(step - warmupSteps) / Double(max(1, steps - warmupSteps))
            return 0.5 * learningRate * (1 + cos(Double.pi * min(1, progress)))
        }
    }

    public struct Report: Codable, Sendable {
        public var step: Int
        public var loss: Double
        /// Fraction of images whose best caption in the batch is one of theirs.
        public var batchAccuracy: Double
        public var learningRate: Double
        public var logitScale: Double
        public var seconds: Double
        /// Zero-shot accuracy on the fixed evaluation images of each domain (at evaluation steps only).
        public var pretrainingAccuracy: Double?
        public var targetAccuracy: Double?
    }

    /// A fresh model of the architecture with the world's learned vocabulary (written to `directory`).
    public static func initialModel(options: Options, directory: String) throws -> CLIPModel {
        try options.validate()
        let vocabulary = BPELearner.learn(corpus: TextureWorld.captionCorpus())
        let config = architecture(options.architecture, vocabularySize: vocabulary.symbols.count)!
        try vocabulary.write(to: directory, contextLength: config.contextLength)
        guard let tokenizer = try CLIPTokenizer.inDirectory(directory, contextLength: config.contextLength) else {
            throw EngineError(.io, "tokenizer files were not written", path: directory)
        }
        var rng = SeededRandom(seed: options.seed)
        let p = CLIPParameters.random(config, rng: &rng)
        return CLIPModel(parameters: p, tokenizer: tokenizer, source: directory)
    }

    /// Normalised pixels of RGB images the model's size (the world renders at the model's image size, so
    /// the evaluation transform is the identity before normalisation).
    static func pixels(_ rgb: [[UInt8]], model: CLIPModel) -> [Float] {
        let pre = Preprocessor(config: model.config)
        return Array(rgb.map { pre.normalize($0) }.joined())
    }

    /// Zero-shot accuracy with `template` on `count` images of a domain: the pretraining domain's fixed
    /// evaluation stream (classes in turn), or the target pool's test split (the images `textures()` writes).
    public static func zeroShotAccuracy(_ model: CLIPModel, world: TextureWorld, domain: TextureDomain, count: Int) throws -> Double {
        var w = world
        w.imageSize = model.config.imageSize
        let labels: [Int], rgb: [[UInt8]]
        switch domain {
        case .pretraining:
            labels = (0..<count).map { $0 % TextureWorld.classes.count }
            rgb = (0..<count).map { w.image(TextureWorld.classes[labels[$0]], domain: .pretraining, stream: 0xE7A1, index: $0).rgb }
        case .target:
            labels = Array(w.labels(.test).prefix(count))
            rgb = labels.enumerated().map { w.image(TextureWorld.classes[$0.element], domain: .target, stream: FNV64.hash("test"), index: $0.offset).rgb }
        }
        let classifier = try Classifier.zeroShot(model: model, classNames: TextureWorld.classNames, templates: [template])
        let features = model.encodeImages(pixels(rgb, model: model), count: labels.count, batch: 64)
        let probabilities = try classifier.probabilities(features)
        let k = TextureWorld.classes.count
        let predictions = (0..<labels.count).map { r in (0..<k).max { probabilities[r * k + $0] < probabilities[r * k + $1] }! }
        return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    /// Contrastive pretraining: fresh caption/image batches every step, AdamW, warm-up + cosine, the logit scale
    /// clamped at 100 as CLIP does. Reports every step; evaluates and checkpoints (`save`) every `evaluateEvery`.
    /// Cancelling keeps the weights of the last completed step (returned through the error's checkpoint).
    public static func pretrain(
        _ initial: CLIPModel, world: TextureWorld, options: Options, cancel: CancellationToken? = nil,
        onReport: ((Report) -> Void)? = nil, checkpoint: ((CLIPModel, Report) throws -> Void)? = nil
    ) throws -> CLIPModel {
        try options.validate()
        guard let tokenizer = initial.tokenizer else { throw EngineError(.argument, "the model has no tokenizer") }
        var w = world
        w.imageSize = initial.config.imageSize
        let params = CLIPParameters(model: initial), grad = params.zeros()   // one gradient buffer, zeroed in place each step
        var optimizer = AdamW(weightDecay: options.weightDecay)
        let pass = ContrastivePass(config: initial.config)
        let start = Date()
        var model = initial
        for step in 0..<options.steps {
            if cancel?.isCancelled == true {
                model = params.model(like: initial)
                try checkpoint?(model, Report(step: step, loss: .nan, batchAccuracy: .nan, learningRate: 0, logitScale: Double(expf(params.logitScale[0])), seconds: Date().timeIntervalSince(start)))
                throw EngineError(.cancelled, "pretraining cancelled after \(step) steps (the checkpoint holds the last completed step)")
            }
            // The batch: examples step*B ..< (step+1)*B of the pretraining stream, rendered in parallel.
            let b = options.batchSize
            var examples = [(rgb: [UInt8], caption: String, label: Int)](repeating: ([], "", 0), count: b)
            examples.withUnsafeMutableBufferPointer { ex in
                parallelChunks(b) { range in
                    for i in range { ex[i] = w.pretrainingExample(stream: options.seed, index: step * b + i) }
                }
            }
            let captions = examples.map { tokenizer.encode($0.caption) }
            var groupOf: [String: Int] = [:]
            let groups = examples.map { e in groupOf[e.caption] ?? { groupOf[e.caption] = groupOf.count; return groupOf.count - 1 }() }
            let px = pixels(examples.map(\.rgb), model: initial)
            let loss = pass.loss(params, pixels: px, captions: captions, groups: groups, gradient: grad)
            guard loss.isFinite, grad.storage.allFinite else {
                model = params.model(like: initial)
                try checkpoint?(model, Report(step: step, loss: .nan, batchAccuracy: .nan, learningRate: 0, logitScale: Double(expf(params.logitScale[0])), seconds: Date().timeIntervalSince(start)))
                throw EngineError(.numeric, "the loss or its gradient became non-finite at step \(step + 1) (learning rate too high?); the checkpoint holds the step before")
            }
            let lr = options.learningRate(step: step)
            optimizer.update(params, gradients: grad, learningRate: lr)
            params.logitScale[0] = min(params.logitScale[0], Float(log(100.0)))
            var report = Report(step: step + 1, loss: loss, batchAccuracy: pass.lastBatchAccuracy, learningRate: lr,
                                logitScale: Double(expf(params.logitScale[0])), seconds: Date().timeIntervalSince(start))
            let evaluate = (step + 1) % options.evaluateEvery == 0 || step + 1 == options.steps
            if evaluate {
                model = params.model(like: initial)
                report.pretrainingAccuracy = try zeroShotAccuracy(model, world: w, domain: .pretraining, count: options.evaluationSize)
                report.targetAccuracy = try zeroShotAccuracy(model, world: w, domain: .target, count: options.evaluationSize)
            }
            onReport?(report)
            if evaluate { try checkpoint?(model, report) }
        }
        return params.model(like: initial)
    }
}
