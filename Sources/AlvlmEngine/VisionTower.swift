/// CLIP's vision tower, the one implementation used by inference (`CLIPModel.encodeImages`) and pretraining
/// (`ContrastivePass`), and ready for visual prompts:
///   pixels [n, 3, S, S] → patches (im2col) → patch linear → [CLS, patches] + positions, then appended tokens
///   (no positions) → ln_pre → transformer (full attention; deep prompts optional) → CLS row → ln_post →
///   projection → features [n, E]
/// Dimensions: g = S / p patches a side, t = 1 + g² + a tokens per image (a appended), C width, E embedding.
/// Forward and backward sit side by side; what backward needs is recorded by the forward that asks for it.
final class VisionTower {
    let config: CLIPConfig
    let workspace = Workspace()
    private var saved: SavedActivations?
    private var head = PooledHead()
    private var recorded = TowerRecord.none
    // Recorded for backward: the im2col rows (weight gradients only), the ln_pre input and statistics.
    private var patches: [Float] = [], lnPreInput: [Float] = [], preMean: [Float] = [], preRstd: [Float] = []
    private var images = 0, appendedCount = 0

    init(config: CLIPConfig) { self.config = config }

    var shape: TowerShape { config.vision }

    /// Features [n, E] (not normalised) of `n` images of normalised pixels. `appended` ([a, C], the same for every
    /// image) are tokens placed after the patches without positions, before ln_pre, as VPT and MaPLe place their
    /// layer-0 prompts.
    func forward(pixels: UnsafePointer<Float>, count n: Int, weights w: VisionWeights, record: TowerRecord,
                 appended: [Float]? = nil, prompts: DeepPrompts? = nil) -> [Float] {
        let c = shape.width, p = config.patchSize, g = config.grid, e = config.embedDim
        let a = (appended?.count ?? 0) / c, t = 1 + g * g + a
        precondition((appended?.count ?? 0) == a * c, "appended tokens are not [a, \(c)]")
        let cols = CLIPModel.im2col(pixels, count: n, size: config.imageSize, patch: p)
        var embedded = [Float](repeating: 0, count: n * g * g * c)
        embedded.withUnsafeMutableBufferPointer { eb in
            Kernels.linear(cols, rows: n * g * g, inFeatures: 3 * p * p, weight: w.patch, bias: nil, outFeatures: c, into: eb.baseAddress!)
        }
        // Each image's rows: [CLS, patches] + positions, then the appended tokens.
        var input = [Float](repeating: 0, count: n * t * c)
        let rows = Self.rowSources(images: n, grid: g, appended: a)
        Embedding.gather(w.classEmbedding, index: rows.classToken, width: c, into: &input)
        Embedding.gather(embedded, index: rows.patch, width: c, into: &input)
        if let appended { Embedding.gather(appended, index: rows.appended, width: c, into: &input) }
        Embedding.gather(w.positions, index: rows.position, width: c, into: &input)
        var x = [Float](repeating: 0, count: n * t * c)
        let layout = AttentionLayout.sequences(batch: n, tokens: t)
        let keep = SavedActivations.reuse(&saved, layout, shape: shape, for: record)
        if record != .none {
            preMean = [Float](repeating: 0, count: n * t); preRstd = preMean
            Kernels.layerNorm(input, &x, rows: n * t, width: c, weight: w.preW, bias: w.preB, eps: shape.eps, mean: &preMean, rstd: &preRstd)
            lnPreInput = input
            patches = record == .weightGradients ? cols : []
        } else {
            Kernels.layerNorm(input, &x, rows: n * t, width: c, weight: w.preW, bias: w.preB, eps: shape.eps)
        }
        images = n; appendedCount = a; recorded = record
        x.withUnsafeMutableBufferPointer { xb in
            Transformer.forward(xb.baseAddress!, layout: layout, blocks: w.blocks, shape: shape, causal: false, workspace: workspace,
                                saving: keep, prompts: prompts, outputRows: record == .none ? (0..<n).map { $0 * t } : nil)
        }
        var classTokens = [Float](repeating: 0, count: n * c)
        for img in 0..<n { for i in 0..<c { classTokens[img * c + i] = x[img * t * c + i] } }
        return head.forward(classTokens, rows: n, width: c, embed: e, lnWeight: w.postW, lnBias: w.postB, eps: shape.eps, projection: w.projection)
    }

    /// For dLoss/d(features) of the last recording forward: the appended tokens' gradient (summed over the images;
    /// nil without appended tokens); with `gradients` (which needs `.weightGradients`), every weight's gradient is
    /// accumulated into it.
    @discardableResult
    func backward(_ df: [Float], weights w: VisionWeights, gradients: UnsafeMutablePointer<VisionWeights>? = nil,
                  prompts: DeepPrompts? = nil) -> [Float]? {
        guard let saved, recorded != .none else { preconditionFailure("backward needs a forward that recorded") }
        precondition(gradients == nil || recorded == .weightGradients, "weight gradients need a forward recording them")
        let n = images, c = shape.width, p = config.patchSize, g = config.grid, a = appendedCount, t = 1 + g * g + a
        var headGradients = gradients.map { g in PooledHead.Gradients(lnWeight: &g.pointee.postW, lnBias: &g.pointee.postB, projection: &g.pointee.projection) }
        let dclass = head.backward(df, lnWeight: w.postW, projection: w.projection, gradients: &headGradients)
        if let gr = gradients, let h = headGradients { h.restore(lnWeight: &gr.pointee.postW, lnBias: &gr.pointee.postB, projection: &gr.pointee.projection) }
        var dx = [Float](repeating: 0, count: n * t * c)
        for img in 0..<n { for i in 0..<c { dx[img * t * c + i] = dclass[img * c + i] } }
        Transformer.backward(&dx, blocks: w.blocks, saved: saved, workspace: workspace,
                             gradients: gradients.map { $0.pointer(to: \.blocks)! }, prompts: prompts)
        var dinput = [Float](repeating: 0, count: n * t * c)
        if let gradients {
            var (dw, db) = (gradients.pointee.preW, gradients.pointee.preB)
            gradients.pointee.preW = []; gradients.pointee.preB = []
            Kernels.layerNormBackward(dx, lnPreInput, mean: preMean, rstd: preRstd, weight: w.preW, into: &dinput, rows: n * t, width: c,
                                      weightGradient: &dw, biasGradient: &db)
            gradients.pointee.preW = dw; gradients.pointee.preB = db
        } else {
            Kernels.layerNormBackward(dx, lnPreInput, mean: preMean, rstd: preRstd, weight: w.preW, into: &dinput, rows: n * t, width: c)
        }
        if let gradients {
            // Class embedding, positions, and the patch embedding (a linear layer over the im2col rows).
            var dembedded = [Float](repeating: 0, count: n * g * g * c)
            let rows = Self.rowSources(images: n, grid: g, appended: a)
            Embedding.scatter(dinput, index: rows.position, width: c, into: &gradients.pointee.positions)
            Embedding.scatter(dinput, index: rows.classToken, width: c, into: &gradients.pointee.classEmbedding)
            Embedding.scatter(dinput, index: rows.patch, width: c, into: &dembedded)
            var dw = gradients.pointee.patch
            gradients.pointee.patch = []
            Kernels.linearBackward(dy: dembedded, x: patches, weight: w.patch, rows: n * g * g, inFeatures: 3 * p * p, outFeatures: c,
                                   dx: nil, weightGradient: &dw)
            gradients.pointee.patch = dw
        }
        guard a > 0 else { return nil }
        var dappended = [Float](repeating: 0, count: a * c)
        Embedding.scatter(dinput, index: Self.rowSources(images: n, grid: g, appended: a).appended, width: c, into: &dappended)
        return dappended
    }

    /// Where each input row [n · t] comes from (−1: not this source): the class embedding (row 0 of every image),
    /// a patch's embedding (row of the patch linear's output), an appended token, and a position (none for
    /// appended tokens).
    static func rowSources(images n: Int, grid g: Int, appended a: Int) -> (classToken: [Int], patch: [Int], appended: [Int], position: [Int]) {
        let t = 1 + g * g + a
        var classToken = [Int](repeating: -1, count: n * t), patch = classToken, appended = classToken, position = classToken
        for img in 0..<n {
            for tok in 0..<t {
                let r = img * t + tok
                if tok == 0 { classToken[r] = 0 } else if tok <= g * g { patch[r] = img * g * g + tok - 1 } else { appended[r] = tok - 1 - g * g }
                if tok <= g * g { position[r] = tok }
            }
        }
        return (classToken, patch, appended, position)
    }
}
