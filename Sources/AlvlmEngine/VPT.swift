import Foundation

/// VPT-deep on CLIP's image tower (Jia et al., "Visual Prompt Tuning", ECCV 2022), as the CLIP prompt-learning code
/// of Khattak et al. defines it (github muzairkhattak/multimodal-prompt-learning, trainers/vpt.py):
///   n learned tokens are appended after [CLS, patches] (no positions) before ln_pre; at the input of each layer
///   1..J−1 they are replaced by that layer's own learned tokens (raw: no ln, no positions); later layers carry
///   them on; the image feature is the CLS row as usual. The classifier is frozen: the zero-shot text features of
///   "a photo of a {class}." (the official prompt; another template may be given). Trainable: visual_prompts [J, n, Wv] (row l enters at layer l), N(0, 0.02²).
/// Depth beyond the tower's layers is cut to its layer count; n = 0 or J = 0 is zero-shot CLIP.
public final class VPTLearner: ImagePromptLearner {
    public static let tensorName = "visual_prompts"

    public let model: CLIPModel
    public let classNames: [String]
    public let contextLength: Int
    public let depth: Int
    public var tensors: PromptTensors
    public var method: PromptMethod { .vpt }
    /// The frozen classifier's text features [classes, E].
    let classText: [Float]
    private let tower: VisionTower

    /// Fresh prompts, N(0, 0.02²) from `seed` (layer 0 first).
    public init(model: CLIPModel, classNames: [String], contextLength n: Int = 8, depth: Int = 12, seed: UInt64 = 0,
                template: String = "a photo of a {}.") throws {
        guard n >= 0, depth >= 0 else { throw EngineError(.argument, "prompt length and depth must not be negative") }
        self.model = model; self.classNames = classNames
        self.contextLength = n
        self.depth = min(depth, model.config.vision.layers)
        tensors = PromptTensors([(Self.tensorName, [self.depth, n, model.config.vision.width])])
        var rng = SeededRandom(seed: seed)
        tensors.values = rng.normals(tensors.values.count, std: 0.02)
        classText = try Classifier.zeroShot(model: model, classNames: classNames, templates: [template]).rawTextFeatures
        tower = VisionTower(config: model.config)
    }

    /// Prompts from a file (n and J read from its `visual_prompts` [J, n, Wv]).
    public convenience init(model: CLIPModel, classNames: [String], prompts path: String, template: String = "a photo of a {}.") throws {
        guard let shape = try PromptTensors.shapes(in: path)[Self.tensorName], shape.count == 3 else {
            throw EngineError(.format, "no \(Self.tensorName) tensor of shape (depth, n_ctx, width) in the file", path: path)
        }
        guard shape[2] == model.config.vision.width else {
            throw EngineError(.format, "\(Self.tensorName) has width \(shape[2]); this model's image tower is \(model.config.vision.width) wide", path: path)
        }
        guard shape[0] <= model.config.vision.layers else {
            throw EngineError(.format, "\(Self.tensorName) has \(shape[0]) layers of prompts; the image tower has \(model.config.vision.layers)", path: path)
        }
        try self.init(model: model, classNames: classNames, contextLength: shape[1], depth: shape[0], template: template)
        try tensors.read(from: path)
    }

    /// The layer-0 tokens, and the deeper layers' replacements.
    private func prompts() -> (appended: [Float]?, deep: DeepPrompts?) {
        let c = model.config.vision.width, n = contextLength, layer = n * c
        guard n > 0, depth > 0 else { return (nil, nil) }
        let v = tensors.values
        let first = 1 + model.config.grid * model.config.grid
        var deep: [Int: [Float]] = [:]
        for l in 1..<max(1, depth) { deep[l] = Array(v[(l * layer)..<((l + 1) * layer)]) }
        return (Array(v[0..<layer]), deep.isEmpty ? nil : DeepPrompts(positions: Array(first..<(first + n)), values: deep))
    }

    public func encodeBatch(_ pixels: UnsafePointer<Float>, count: Int) -> [Float] {
        let (appended, deep) = prompts()
        return tower.forward(pixels: pixels, count: count, weights: model.vision, record: .none, appended: appended, prompts: deep)
    }

    public func textFeatures() -> [Float] { classText }

    public func lossAndGradient(pixels: [Float], labels: [Int]) -> (loss: Double, gradient: [Float]) {
        let (appended, deep) = prompts()
        let images = pixels.withUnsafeBufferPointer {
            tower.forward(pixels: $0.baseAddress!, count: labels.count, weights: model.vision, record: .inputGradients,
                          appended: appended, prompts: deep)
        }
        let (loss, dimages, _) = PromptObjective.evaluate(images: images, texts: classText, width: model.config.embedDim, labels: labels,
                                                          logitScale: model.logitScale, imageGradient: true, textGradient: false)
        var gradient = [Float](repeating: 0, count: tensors.values.count)
        guard appended != nil else { return (loss, gradient) }
        let layer = contextLength * model.config.vision.width
        let d0 = tower.backward(dimages!, weights: model.vision, prompts: deep)!
        gradient.replaceSubrange(0..<layer, with: d0)
        for (l, g) in deep?.gradients ?? [:] { gradient.replaceSubrange((l * layer)..<((l + 1) * layer), with: g) }
        return (loss, gradient)
    }
}
