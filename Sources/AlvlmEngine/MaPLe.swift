import Foundation

/// MaPLe, multi-modal prompt learning (Khattak et al., CVPR 2023; github muzairkhattak/multimodal-prompt-learning,
/// trainers/maple.py). Text: the prompt "a photo of a {class}." with its first n tokens learned (text_ctx, from
/// those words' embeddings; positions added), and positions 1..n replaced at the input of text layers 1..J−1 by
/// compound_text.i (raw). Image: n tokens appended after [CLS, patches] before ln_pre, proj(text_ctx), and the same
/// positions replaced at the input of image layers 1..J−1 by compound_proj.i(compound_text.i): every image prompt
/// is a linear function of a text prompt, so the image loss trains the text prompts too. The text encoder is rerun
/// for all classes every step. CLIP stays frozen. Tensors, for layer index i = 1..J−1:
///   text_ctx [n, Wt], proj.weight [Wv, Wt], proj.bias [Wv], compound_text.i [n, Wt],
///   compound_proj.i.weight [Wv, Wt], compound_proj.i.bias [Wv].
/// Initialisation as the official code: text_ctx from the phrase (N(0, 0.02²) with n "X" words when the phrase
/// has fewer than n tokens), projections torch.nn.Linear's default U(±1/√Wt), compound_text N(0, 0.02²), and one
/// default projection copied to every layer. Depth is cut to the deeper tower's layer count.
public final class MaPLeLearner: ImagePromptLearner {
    public let model: CLIPModel
    public let classNames: [String]
    public let contextLength: Int
    public let depth: Int
    public var tensors: PromptTensors
    public var method: PromptMethod { .maple }
    private let text: PromptLearner
    private let tower: VisionTower

    public init(model: CLIPModel, classNames: [String], contextLength n: Int = 2, depth: Int = 9,
                contextInit: String? = "a photo of a", seed: UInt64 = 0) throws {
        guard n >= 0 else { throw EngineError(.argument, "the prompt length must not be negative") }
        guard depth >= 1 else { throw EngineError(.argument, "MaPLe's prompt depth must be at least 1 (got \(depth))") }
        let wt = model.config.text.width, wv = model.config.vision.width
        let j = min(depth, max(model.config.text.layers, model.config.vision.layers))
        self.model = model; self.classNames = classNames; self.contextLength = n; self.depth = j
        var layout: [(name: String, shape: [Int])] = [("text_ctx", [n, wt]), ("proj.weight", [wv, wt]), ("proj.bias", [wv])]
        for i in 1..<max(1, j) { layout.append(("compound_text.\(i)", [n, wt])) }
        for i in 1..<max(1, j) { layout += [("compound_proj.\(i).weight", [wv, wt]), ("compound_proj.\(i).bias", [wv])] }
        tensors = PromptTensors(layout)
        text = try PromptLearner(model: model, classNames: classNames, options: PromptOptions(contextLength: n, contextInit: contextInit),
                                 keepingPhrase: true)
        tower = VisionTower(config: model.config)
        // The official constructor's order: ctx (when random), proj, the compound text prompts, one projection.
        var rng = SeededRandom(seed: seed)
        let phraseTokens = (contextInit ?? "").isEmpty ? 0 : (model.tokenizer?.encode(contextInit!).count ?? 2) - 2
        tensors["text_ctx"] = phraseTokens >= n && !(contextInit ?? "").isEmpty ? text.context : rng.normals(n * wt, std: 0.02)
        let bound = 1 / Double(wt).squareRoot()
        func uniform(_ count: Int) -> [Float] { (0..<count).map { _ in Float((2 * rng.uniform() - 1) * bound) } }
        tensors["proj.weight"] = uniform(wv * wt)
        tensors["proj.bias"] = uniform(wv)
        for i in 1..<max(1, j) { tensors["compound_text.\(i)"] = rng.normals(n * wt, std: 0.02) }
        let (w, b) = (uniform(wv * wt), uniform(wv))
        for i in 1..<max(1, j) { tensors["compound_proj.\(i).weight"] = w; tensors["compound_proj.\(i).bias"] = b }
    }

    /// Prompts from a file (n from text_ctx's rows, J as 1 + the number of compound_text tensors).
    public convenience init(model: CLIPModel, classNames: [String], prompts path: String, contextInit: String? = "a photo of a") throws {
        let shapes = try PromptTensors.shapes(in: path)
        guard let ctx = shapes["text_ctx"], ctx.count == 2 else {
            throw EngineError(.format, "no text_ctx tensor of shape (n_ctx, width) in the file", path: path)
        }
        let j = 1 + shapes.keys.filter { $0.hasPrefix("compound_text.") }.count
        try self.init(model: model, classNames: classNames, contextLength: ctx[0], depth: j, contextInit: contextInit)
        guard self.depth == j else {
            throw EngineError(.format, "the file has prompts for \(j) layers; this model's towers have at most \(self.depth)", path: path)
        }
        try tensors.read(from: path)
    }

    /// One training step's prompts: the text tower's deep tokens, and the image tower's layer-0 and deep tokens.
    private struct Prompts {
        var text: DeepPrompts?
        var appended: [Float]?
        var image: DeepPrompts?
    }

    /// y [n, Wv] = x [n, Wt] Wᵀ + b for the projection named `name`.
    private func project(_ x: [Float], _ name: String) -> [Float] {
        let n = contextLength, wt = model.config.text.width, wv = model.config.vision.width
        var y = [Float](repeating: 0, count: n * wv)
        let w = tensors["\(name).weight"], b = tensors["\(name).bias"]
        y.withUnsafeMutableBufferPointer { Kernels.linear(x, rows: n, inFeatures: wt, weight: w, bias: b, outFeatures: wv, into: $0.baseAddress!) }
        return y
    }

    /// The text tower's deep prompts: compound_text.i at the input of text layer i.
    private func textPrompts() -> DeepPrompts? {
        let n = contextLength, layers = model.config.text.layers
        guard n > 0 else { return nil }
        var deep: [Int: [Float]] = [:]
        for i in 1..<max(1, depth) where i < layers { deep[i] = tensors["compound_text.\(i)"] }
        return deep.isEmpty ? nil : DeepPrompts(positions: Array(1...n), values: deep)
    }

    private func prompts() -> Prompts {
        let n = contextLength, layers = model.config.vision.layers
        guard n > 0 else { return Prompts() }
        var imageDeep: [Int: [Float]] = [:]
        for i in 1..<max(1, depth) where i < layers { imageDeep[i] = project(tensors["compound_text.\(i)"], "compound_proj.\(i)") }
        let first = 1 + model.config.grid * model.config.grid
        return Prompts(text: textPrompts(), appended: project(tensors["text_ctx"], "proj"),
                       image: imageDeep.isEmpty ? nil : DeepPrompts(positions: Array(first..<(first + n)), values: imageDeep))
    }

    public func encodeBatch(_ pixels: UnsafePointer<Float>, count: Int) -> [Float] {
        let p = prompts()
        return tower.forward(pixels: pixels, count: count, weights: model.vision, record: .none, appended: p.appended, prompts: p.image)
    }

    public func textFeatures() -> [Float] {
        text.context = tensors["text_ctx"]
        return text.run(saving: false, prompts: textPrompts())
    }

    public func lossAndGradient(pixels: [Float], labels: [Int]) -> (loss: Double, gradient: [Float]) {
        let p = prompts()
        text.context = tensors["text_ctx"]
        let classText = text.run(saving: true, prompts: p.text)
        let images = pixels.withUnsafeBufferPointer {
            tower.forward(pixels: $0.baseAddress!, count: labels.count, weights: model.vision, record: .inputGradients,
                          appended: p.appended, prompts: p.image)
        }
        let (loss, dimages, dtexts) = PromptObjective.evaluate(images: images, texts: classText, width: model.config.embedDim, labels: labels,
                                                               logitScale: model.logitScale, imageGradient: true, textGradient: true)
        var grad = PromptTensors(tensors.tensors.map { ($0.name, $0.shape) })
        guard contextLength > 0 else { return (loss, grad.values) }
        // Text side: the context (through the embedding) and the deep text prompts.
        grad["text_ctx"] = text.backward(featureGradient: dtexts!, prompts: p.text)
        for (i, g) in p.text?.gradients ?? [:] { grad["compound_text.\(i)"] = g }
        // Image side: each inserted token set back through its projection to the text prompt it came from.
        let dappended = tower.backward(dimages!, weights: model.vision, prompts: p.image)!
        projectBackward(dappended, input: "text_ctx", projection: "proj", into: &grad)
        for (i, g) in p.image?.gradients ?? [:] { projectBackward(g, input: "compound_text.\(i)", projection: "compound_proj.\(i)", into: &grad) }
        return (loss, grad.values)
    }

    /// Adds the gradients of y = x Wᵀ + b for dy [n, Wv]: to x (the text prompt) and to W and b.
    private func projectBackward(_ dy: [Float], input: String, projection name: String, into grad: inout PromptTensors) {
        let n = contextLength, wt = model.config.text.width, wv = model.config.vision.width
        var dx = grad[input], dw = grad["\(name).weight"], db = grad["\(name).bias"]
        let x = tensors[input], w = tensors["\(name).weight"]
        dx.withUnsafeMutableBufferPointer { dxp in
            dw.withUnsafeMutableBufferPointer { dwp in
                db.withUnsafeMutableBufferPointer { dbp in
                    Kernels.linearBackward(dy: dy, x: x, weight: w, rows: n, inFeatures: wt, outFeatures: wv, dx: dxp.baseAddress!, accumulate: true,
                                           weightGradient: dwp.baseAddress!, biasGradient: dbp.baseAddress!)
                }
            }
        }
        grad[input] = dx; grad["\(name).weight"] = dw; grad["\(name).bias"] = db
    }
}
