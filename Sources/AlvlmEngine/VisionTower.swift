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
            BLAS.linear(cols, rows: n * g * g, inFeatures: 3 * p * p, weight: w.patch, bias: nil, outFeatures: c, into: eb.baseAddress!)
        }
        var input = [Float](repeating: 0, count: n * t * c)
        for img in 0..<n {
            let seq = img * t * c
            for i in 0..<c { input[seq + i] = w.classEmbedding[i] + w.positions[i] }
            for tok in 1...(g * g) {
                let src = (img * g * g + tok - 1) * c, dst = seq + tok * c
                for i in 0..<c { input[dst + i] = embedded[src + i] + w.positions[tok * c + i] }
            }
            if let appended { for i in 0..<(a * c) { input[seq + (1 + g * g) * c + i] = appended[i] } }
        }
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
            for img in 0..<n {
                for tok in 0...(g * g) {
                    let src = (img * t + tok) * c
                    for i in 0..<c {
                        let v = dinput[src + i]
                        gradients.pointee.positions[tok * c + i] += v
                        if tok == 0 { gradients.pointee.classEmbedding[i] += v } else { dembedded[(img * g * g + tok - 1) * c + i] = v }
                    }
                }
            }
            var dw = gradients.pointee.patch
            gradients.pointee.patch = []
            Kernels.linearBackward(dy: dembedded, x: patches, weight: w.patch, rows: n * g * g, inFeatures: 3 * p * p, outFeatures: c,
                                   dx: nil, weightGradient: &dw)
            gradients.pointee.patch = dw
        }
        guard a > 0 else { return nil }
        var dappended = [Float](repeating: 0, count: a * c)
        for img in 0..<n {
            let base = (img * t + 1 + g * g) * c
            for i in 0..<(a * c) { dappended[i] += dinput[base + i] }
        }
        return dappended
    }
}
