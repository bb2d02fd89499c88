import Foundation

/// Prompt learners whose prompts enter the image tower (VPT, MaPLe): image features change with the prompts, so
/// they train and predict on pixels (normalised [N, 3, S, S], as `Preprocessor.pixels` makes them) rather than on
/// cached features. Their trainable values are one `PromptTensors` block; CLIP itself stays frozen.
public protocol ImagePromptLearner: AnyObject {
    var model: CLIPModel { get }
    var classNames: [String] { get }
    var tensors: PromptTensors { get set }
    /// The method's name as the command line and the language spell it ("vpt", "maple").
    var method: PromptMethod { get }
    /// Prompt tokens per layer, and the layers 0..depth-1 they enter.
    var contextLength: Int { get }
    var depth: Int { get }
    /// Image features [count, E] (not normalised) of one batch under the current prompts.
    func encodeBatch(_ pixels: UnsafePointer<Float>, count: Int) -> [Float]
    /// Class text features [classes, E] (not normalised) under the current prompts.
    func textFeatures() -> [Float]
    /// The mean cross-entropy of a batch and its gradient w.r.t. `tensors.values`.
    func lossAndGradient(pixels: [Float], labels: [Int]) -> (loss: Double, gradient: [Float])
}

/// The prompt-tuning methods (the paper's Tables 1 and 2).
public enum PromptMethod: String, CaseIterable, Sendable, Codable {
    case coop, vpt, maple
}

/// Labelled images for training a pixel prompt learner: `views` preprocessed views per image, one after another
/// (1: the centre crop; more: random-resized-crop-and-flip views, one drawn per epoch), [labels.count · views, 3, S, S].
public struct TrainingImages {
    public var pixels: [Float]
    public var labels: [Int]
    public var views: Int
    public init(pixels: [Float], labels: [Int], views: Int = 1) { self.pixels = pixels; self.labels = labels; self.views = views }
}

extension ImagePromptLearner {
    public var classes: Int { classNames.count }
    var imageValues: Int { 3 * model.config.imageSize * model.config.imageSize }

    /// Image features [count, E] under the current prompts, `batch` images at a time; `progress` hears the images
    /// done after each batch; stops with `.cancelled` between batches.
    public func imageFeatures(_ pixels: [Float], count: Int, batch: Int = 16, progress: ((Int) -> Void)? = nil,
                              cancel: CancellationToken? = nil) throws -> [Float] {
        let v = imageValues, e = model.config.embedDim
        guard pixels.count == count * v else {
            throw EngineError(.argument, "pixels hold \(pixels.count) values; \(count) images of 3x\(model.config.imageSize)x\(model.config.imageSize) expected")
        }
        var out = [Float](repeating: 0, count: count * e)
        var start = 0
        while start < count {
            if cancel?.isCancelled == true { throw EngineError(.cancelled, "encoding cancelled after \(start) of \(count) images") }
            let n = min(max(1, batch), count - start)
            let f = pixels.withUnsafeBufferPointer { encodeBatch($0.baseAddress! + start * v, count: n) }
            out.replaceSubrange((start * e)..<((start + n) * e), with: f)
            start += n
            progress?(start)
        }
        return out
    }

    /// Logits [count, classes], exp(logit_scale) included.
    public func logits(_ pixels: [Float], count: Int, batch: Int = 16) throws -> [Float] {
        PromptObjective.logits(images: try imageFeatures(pixels, count: count, batch: batch), texts: textFeatures(),
                               width: model.config.embedDim, logitScale: model.logitScale)
    }

    /// The classifier of the current text side (to pair with `imageFeatures`).
    public func classifier() -> Classifier {
        Classifier(classNames: classNames, textFeatures: textFeatures(), logitScale: model.logitScale)
    }

    /// Trains the prompts in place (`PromptTraining`'s loop) and returns the per-epoch mean loss.
    @discardableResult
    public func train(on set: TrainingImages, options: TrainerOptions, cancel: CancellationToken? = nil,
                      onEpoch: ((EpochReport) -> Void)? = nil) throws -> [EpochReport] {
        let v = imageValues
        guard set.views >= 1, set.pixels.count == set.labels.count * set.views * v else {
            throw EngineError(.argument, "pixels hold \(set.pixels.count) values; \(set.labels.count) images x \(set.views) views x \(v) expected")
        }
        if set.pixels.contains(where: { !$0.isFinite }) { throw EngineError(.numeric, "pixels contain NaN or infinity") }
        var values = tensors.values
        defer { tensors.values = values }
        return try PromptTraining.run(parameters: &values, labels: set.labels, views: set.views, classes: classes, options: options,
                                      cancel: cancel, onEpoch: onEpoch) { current, rows, labels in
            var batch: [Float] = []
            batch.reserveCapacity(rows.count * v)
            for row in rows { batch += set.pixels[(row * v)..<((row + 1) * v)] }
            tensors.values = current
            return lossAndGradient(pixels: batch, labels: labels)
        }
    }
}

/// The recipes a prompt learner trains with: the official code's per method (VPT: 8 tokens x depth 12, lr 0.0025;
/// MaPLe: 2 tokens x depth 9, lr 0.0035; both 5 epochs, batch 4, weight decay 5e-4) and the paper's CoOp recipe
/// (200 epochs, batch 32, lr 0.002, weight decay 0.005; same prompt sizes). The paper does not say which it used
/// for its Table 2.
public enum PromptRecipe: String, CaseIterable, Sendable, Codable {
    case official, coop

    public func contextLength(_ method: PromptMethod) -> Int {
        switch method { case .vpt: 8; case .maple: 2; case .coop: 4 }
    }

    public func depth(_ method: PromptMethod) -> Int {
        switch method { case .vpt: 12; case .maple: 9; case .coop: 1 }
    }

    public func trainer(_ method: PromptMethod) -> TrainerOptions {
        var t = TrainerOptions()
        switch (self, method) {
        case (.coop, _), (_, .coop):
            t.epochs = 200; t.batchSize = 32; t.learningRate = 0.002; t.weightDecay = 0.005
        case (.official, .vpt):
            t.epochs = 5; t.batchSize = 4; t.learningRate = 0.0025; t.weightDecay = 0.0005
        case (.official, .maple):
            t.epochs = 5; t.batchSize = 4; t.learningRate = 0.0035; t.weightDecay = 0.0005
        }
        return t
    }
}
