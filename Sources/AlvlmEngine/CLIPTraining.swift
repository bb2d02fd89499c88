import Foundation

/// Forward and backward of both CLIP towers with weight gradients, and the contrastive loss, for pretraining.
/// The forward passes are the ones `CLIPModel.encodeImages` / `encodeTexts` run (same kernels, same order),
/// recording what the backward passes beside them need.
public final class ContrastivePass {
    let config: CLIPConfig
    private lazy var visionTower = VisionTower(config: config)
    private lazy var textTower = TextTower(shape: config.text)
    // Text record: the ids and how many positions ran.
    private var textIds: [[Int]] = [], textTokens = 0

    /// The in-batch retrieval accuracy of the last `lossAndGradient`.
    public private(set) var lastBatchAccuracy = 0.0

    public init(config: CLIPConfig) { self.config = config }

    // MARK: image tower

    /// Image embeddings [n, E] (not normalised) of normalised pixels [n, 3, S, S], recording for `imageBackward`.
    func imageForward(_ w: VisionWeights, pixels: [Float], count n: Int) -> [Float] {
        pixels.withUnsafeBufferPointer { visionTower.forward(pixels: $0.baseAddress!, count: n, weights: w, record: .weightGradients) }
    }

    /// Accumulates the image tower's weight gradients for dLoss/d(embeddings) [n, E] of the last `imageForward`.
    func imageBackward(_ w: VisionWeights, featureGradient df: [Float], into grad: VisionWeights) {
        visionTower.backward(df, weights: w, gradients: grad)   // the input gradient is not needed here
    }

    // MARK: text tower

    /// Text embeddings [n, E] (not normalised) of token id sequences (SOT ... EOT), recording for `textBackward`.
    func textForward(_ w: TextWeights, ids: [[Int]]) -> [Float] {
        let c = config.text.width, n = ids.count
        textIds = ids
        let pools = ids.map(CLIPModel.poolIndex)
        textTokens = pools.max()! + 1
        let t = textTokens
        return textTower.forward(TextTower.embed(ids, tokens: t, weights: w, width: c), layout: .sequences(batch: n, tokens: t),
                                 pooled: pools.enumerated().map { $0 * t + $1 }, weights: w, record: .weightGradients)
    }

    /// Accumulates the text tower's weight gradients for dLoss/d(embeddings) [n, E] of the last `textForward`.
    func textBackward(_ w: TextWeights, featureGradient df: [Float], into grad: TextWeights) {
        let dx = textTower.backward(df, weights: w, gradients: grad)
        TextTower.embedBackward(dx, ids: textIds, tokens: textTokens, width: config.text.width, into: grad)
    }

    // MARK: the whole step

    /// The loss for one batch of (image, caption) pairs; the gradient of every parameter is written into `gradient`
    /// (zeroed first, in place: a training loop keeps one gradient buffer for all its steps).
    public func loss(_ params: CLIPParameters, pixels: [Float], captions: [[Int]], groups: [Int], gradient grad: CLIPParameters) -> Double {
        precondition(grad.count == params.count, "a gradient buffer of another shape")
        let n = captions.count
        let image = imageForward(params.vision, pixels: pixels, count: n)
        let text = textForward(params.text, ids: captions)
        let l = ContrastiveLoss.evaluate(image: image, text: text, groups: groups, width: config.embedDim, logScale: params.logitScale[0])
        grad.zero()
        imageBackward(params.vision, featureGradient: l.dImage, into: grad.vision)
        textBackward(params.text, featureGradient: l.dText, into: grad.text)
        grad.logitScale[0] = l.dLogScale
        lastBatchAccuracy = l.accuracy
        return l.loss
    }

    /// Loss and gradients of all parameters for one batch, the gradient in a new buffer.
    public func lossAndGradient(_ params: CLIPParameters, pixels: [Float], captions: [[Int]], groups: [Int]) -> (loss: Double, gradient: CLIPParameters) {
        let grad = params.zeros()
        return (loss(params, pixels: pixels, captions: captions, groups: groups, gradient: grad), grad)
    }
}

/// A tower's head: the pooled rows (class token or EOT) through a layer norm and the projection, recording what
/// its backward pass (beside it) needs.
struct PooledHead {
    private var pooled: [Float] = [], mean: [Float] = [], rstd: [Float] = [], normed: [Float] = []
    private var rows = 0, width = 0, embed = 0

    /// The head's tensors (weights, or their gradients).
    struct Tensors {
        let lnWeight: Tensor, lnBias: Tensor, projection: Tensor
    }

    /// Embeddings [rows, embed] of pooled rows [rows, width].
    mutating func forward(_ pooled: [Float], rows n: Int, width c: Int, embed e: Int, weights w: Tensors, eps: Float) -> [Float] {
        self.pooled = pooled; rows = n; width = c; embed = e
        mean = [Float](repeating: 0, count: n); rstd = mean
        normed = [Float](repeating: 0, count: n * c)
        Kernels.layerNorm(pooled, &normed, rows: n, width: c, weight: w.lnWeight.pointer, bias: w.lnBias.pointer, eps: eps, mean: &mean, rstd: &rstd)
        var out = [Float](repeating: 0, count: n * e)
        out.withUnsafeMutableBufferPointer { o in
            Kernels.linear(normed, rows: n, inFeatures: c, weight: w.projection.pointer, bias: nil, outFeatures: e, into: o.baseAddress!)
        }
        return out
    }

    /// dLoss/d(pooled rows) for dLoss/d(embeddings); with `gradients`, the layer norm's and the projection's weight
    /// gradients are accumulated into them.
    func backward(_ df: [Float], weights w: Tensors, gradients g: Tensors?) -> [Float] {
        let n = rows, c = width, e = embed
        var dnormed = [Float](repeating: 0, count: n * c), dpooled = dnormed
        Kernels.linearBackward(dy: df, x: g == nil ? nil : normed, weight: w.projection.pointer, rows: n, inFeatures: c, outFeatures: e,
                               dx: &dnormed, weightGradient: g?.projection.pointer)
        Kernels.layerNormBackward(dnormed, pooled, mean: mean, rstd: rstd, weight: w.lnWeight.pointer, into: &dpooled, rows: n, width: c,
                                  weightGradient: g?.lnWeight.pointer, biasGradient: g?.lnBias.pointer)
        return dpooled
    }
}

/// CLIP's symmetric InfoNCE loss, with several positives where captions repeat within a batch:
/// pairs sharing a `group` (the same caption) are all positives, with equal target weight (as UniCL does),
/// so a repeated caption is never pushed away from its own images.
public enum ContrastiveLoss {
    public struct Result {
        public let loss: Double
        public let dImage: [Float], dText: [Float]
        public let dLogScale: Float
        /// Fraction of images whose most similar caption in the batch is a positive.
        public let accuracy: Double
    }

    public static func evaluate(image: [Float], text: [Float], groups: [Int], width e: Int, logScale: Float) -> Result {
        let n = groups.count
        let (img, imageNorms) = L2Normalization.forward(image, width: e), (txt, textNorms) = L2Normalization.forward(text, width: e)
        let scale = expf(logScale)
        let logits = Products.rows(img, txt, width: e, scale: scale)
        var members: [Int: Int] = [:]
        for g in groups { members[g, default: 0] += 1 }
        // Every pair sharing a group is a positive, with equal weight.
        func targets(_ i: Int) -> [(Int, Double)] { (0..<n).filter { groups[$0] == groups[i] }.map { ($0, 1 / Double(members[groups[i]]!)) } }
        // Images against captions (rows), captions against images (the transposed logits); the loss is their mean.
        var transposed = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { transposed[j * n + i] = logits[i * n + j] } }
        let rows = SoftmaxCrossEntropy.evaluate(logits, rows: n, classes: n, targets: targets)
        let columns = SoftmaxCrossEntropy.evaluate(transposed, rows: n, classes: n, targets: targets)
        var dlogits = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { dlogits[i * n + j] = (rows.gradient[i * n + j] + columns.gradient[j * n + i]) / 2 } }
        var correct = 0
        for i in 0..<n {
            var best = 0
            for j in 0..<n where logits[i * n + j] > logits[i * n + best] { best = j }
            if groups[best] == groups[i] { correct += 1 }
        }
        var dScale: Double = 0
        for k in 0..<(n * n) { dScale += Double(dlogits[k]) * Double(logits[k]) }
        let (dImg, dTxt) = Products.rowsBackward(dlogits, img, txt, width: e, scale: scale)
        return Result(loss: (rows.loss + columns.loss) / 2, dImage: L2Normalization.backward(dImg!, unit: img, norms: imageNorms, width: e),
                      dText: L2Normalization.backward(dTxt!, unit: txt, norms: textNorms, width: e),
                      dLogScale: Float(dScale), accuracy: Double(correct) / Double(max(1, n)))
    }
}
