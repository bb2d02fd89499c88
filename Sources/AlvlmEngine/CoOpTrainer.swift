import Foundation

/// A flag another thread (the REPL's Ctrl-C handler) sets; long loops poll it between steps, and may say through it
/// what they are doing (to whoever watches, `onProgress`).
open class CancellationToken: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private var reporter: (@Sendable (String) -> Void)?
    public init() {}
    public func cancel() { lock.lock(); cancelled = true; lock.unlock() }
    /// Receives the progress messages of the work this token watches (none by default).
    public func onProgress(_ body: @escaping @Sendable (String) -> Void) { lock.lock(); reporter = body; lock.unlock() }
    /// A progress message; built only when someone listens.
    public func report(_ message: @autoclosure () -> String) {
        lock.lock(); let r = reporter; lock.unlock()
        r?(message())
    }
    /// Subclasses may also consult another source (the REPL's interrupt flag).
    open var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }
}

/// CoOp's optimisation (Dassl defaults as the paper uses them): SGD with momentum, one warm-up epoch at a
/// constant tiny rate, then cosine annealing stepped per epoch; the last epoch's context is the result.
public struct TrainerOptions: Equatable, Sendable {
    public var epochs = 200
    public var batchSize = 32
    public var learningRate = 0.002
    public var momentum = 0.9
    /// The paper's 0.005; the reference toolkit's default is 5e-4.
    public var weightDecay = 0.005
    public var warmupEpochs = 1
    public var warmupLearningRate = 1e-5
    public var shuffle = true
    public var seed: UInt64 = 0

    public init() {}

    /// The rate used throughout `epoch` (0-based): constant warm-up, then lr/2 · (1 + cos(π (e − w) / E)).
    public func learningRate(epoch e: Int) -> Double {
        if e < warmupEpochs { return warmupLearningRate }
        return 0.5 * learningRate * (1 + cos(Double.pi * Double(e - warmupEpochs) / Double(epochs)))
    }

    func validate() throws {
        guard epochs >= 1 else { throw EngineError(.argument, "epochs must be at least 1 (got \(epochs))") }
        guard batchSize >= 1 else { throw EngineError(.argument, "batch size must be at least 1 (got \(batchSize))") }
        guard learningRate.isFinite, learningRate > 0 else { throw EngineError(.argument, "learning rate must be positive") }
        guard momentum >= 0, momentum < 1, weightDecay >= 0 else { throw EngineError(.argument, "momentum must be in [0, 1) and weight decay non-negative") }
    }
}

/// Labelled image features for training: `views` rows per image (augmented views; 1 = centre crop only).
public struct TrainingSet {
    public var features: [Float]
    public var labels: [Int]
    public var views: Int
    public init(features: [Float], labels: [Int], views: Int = 1) {
        self.features = features; self.labels = labels; self.views = views
    }
}

public struct EpochReport: Sendable {
    public let epoch: Int
    public let loss: Double
    public let learningRate: Double
    public let steps: Int
}

public enum CoOpTrainer {
    /// Trains the learner's context in place and returns the per-epoch mean loss.
    /// Stops with `.cancelled` when the token is set (the context keeps the last completed step), and with
    /// `.numeric` when the loss stops being finite (the context of the previous epoch is restored).
    @discardableResult
    public static func train(
        _ learner: PromptLearner, on set: TrainingSet, options: TrainerOptions,
        cancel: CancellationToken? = nil, onEpoch: ((EpochReport) -> Void)? = nil
    ) throws -> [EpochReport] {
        let e = learner.model.config.embedDim
        let n = set.labels.count
        guard set.views >= 1, set.features.count == n * set.views * e else {
            throw EngineError(.argument, "features hold \(set.features.count) values; \(n) images x \(set.views) views x width \(e) expected (the model's embedding width)")
        }
        if set.features.contains(where: { !$0.isFinite }) { throw EngineError(.numeric, "image features contain NaN or infinity") }
        var context = learner.context
        defer { learner.context = context }
        return try PromptTraining.run(parameters: &context, labels: set.labels, views: set.views, classes: learner.classes,
                                      options: options, cancel: cancel, onEpoch: onEpoch) { current, rows, labels in
            learner.context = current
            var features: [Float] = []
            features.reserveCapacity(rows.count * e)
            for row in rows { features += set.features[(row * e)..<((row + 1) * e)] }
            return learner.lossAndGradient(imageFeatures: features, labels: labels)
        }
    }
}

/// The optimisation every prompt learner shares (Dassl's, as CoOp, VPT and MaPLe use it): seeded shuffling into
/// batches (the last partial batch dropped when there is at least one full one), one random view per sample per
/// epoch, SGD with momentum in torch's semantics over all trainable values as one vector, the rate of
/// `TrainerOptions.learningRate(epoch:)`; cancellation between steps and a guard against non-finite values.
public enum PromptTraining {
    /// Trains `parameters` in place; `step` gets the current parameters and the rows (sample · views + view) and
    /// labels of one batch and returns the batch's mean loss and its gradient w.r.t. the parameters. Returns the per-epoch mean loss.
    /// Stops with `.cancelled` when the token is set (the parameters keep the last completed step), and with
    /// `.numeric` when the loss stops being finite (the parameters of the previous epoch are restored).
    @discardableResult
    public static func run(
        parameters: inout [Float], labels: [Int], views: Int, classes: Int, options: TrainerOptions,
        cancel: CancellationToken? = nil, onEpoch: ((EpochReport) -> Void)? = nil,
        step lossAndGradient: (_ parameters: [Float], _ rows: [Int], _ labels: [Int]) throws -> (loss: Double, gradient: [Float])
    ) throws -> [EpochReport] {
        try options.validate()
        let n = labels.count
        guard n > 0 else { throw EngineError(.argument, "the labelled set is empty") }
        guard views >= 1 else { throw EngineError(.argument, "views must be at least 1") }
        if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) {
            throw EngineError(.argument, "label \(bad) is outside 0...\(classes - 1)")
        }
        var rng = SeededRandom(seed: options.seed)
        let dropLast = n >= options.batchSize
        let steps = dropLast ? n / options.batchSize : 1
        var sgd = SGD(momentum: Float(options.momentum), weightDecay: Float(options.weightDecay))
        var reports: [EpochReport] = []
        for epoch in 0..<options.epochs {
            let lr = Float(options.learningRate(epoch: epoch))
            let before = parameters, sgdBefore = sgd
            var order = Array(0..<n)
            if options.shuffle { for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) } }
            let chosenViews = (0..<n).map { _ in views == 1 ? 0 : Int(rng.next() % UInt64(views)) }
            var total = 0.0
            for s in 0..<steps {
                if cancel?.isCancelled == true { throw EngineError(.cancelled, "training cancelled at epoch \(epoch + 1), step \(s + 1)") }
                let members = Array(order[(s * options.batchSize)..<min(n, (s + 1) * options.batchSize)])
                let (loss, grad) = try lossAndGradient(parameters, members.map { $0 * views + chosenViews[$0] }, members.map { labels[$0] })
                guard loss.isFinite, !grad.contains(where: { !$0.isFinite }) else {
                    parameters = before
                    sgd = sgdBefore
                    throw EngineError(.numeric, "loss became non-finite at epoch \(epoch + 1); the prompts from before that epoch are kept")
                }
                total += loss
                sgd.step(&parameters, gradient: grad, learningRate: lr)
                if parameters.contains(where: { !$0.isFinite }) {
                    parameters = before
                    sgd = sgdBefore
                    throw EngineError(.numeric, "the prompts became non-finite at epoch \(epoch + 1) (learning rate too high?); the prompts from before that epoch are kept")
                }
            }
            let report = EpochReport(epoch: epoch + 1, loss: total / Double(steps), learningRate: Double(lr), steps: steps)
            reports.append(report)
            onEpoch?(report)
        }
        return reports
    }
}
