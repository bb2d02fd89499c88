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
    /// With `packed` (inference only), the patch embedding and the blocks' linear layers run in bfloat16.
    func forward(pixels: UnsafePointer<Float>, count n: Int, weights w: VisionWeights, record: TowerRecord,
                 appended: [Float]? = nil, prompts: DeepPrompts? = nil, packed: PackedVision? = nil) -> [Float] {
        precondition(packed == nil || record == .none, "bfloat16 is for inference only")
        let c = shape.width, p = config.patchSize, g = config.grid, e = config.embedDim
        let a = (appended?.count ?? 0) / c, t = 1 + g * g + a
        precondition((appended?.count ?? 0) == a * c, "appended tokens are not [a, \(c)]")
        let cols = CLIPModel.im2col(pixels, count: n, size: config.imageSize, patch: p)
        var embedded = [Float](repeating: 0, count: n * g * g * c)
        embedded.withUnsafeMutableBufferPointer { eb in
            if let packed {
                BFloat16.linear(cols, rows: n * g * g, weight: packed.patch, bias: nil, into: eb.baseAddress!)
            } else {
                Kernels.linear(cols, rows: n * g * g, inFeatures: 3 * p * p, weight: w.patch.pointer, bias: nil, outFeatures: c, into: eb.baseAddress!)
            }
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
            Kernels.layerNorm(input, &x, rows: n * t, width: c, weight: w.preW.pointer, bias: w.preB.pointer, eps: shape.eps, mean: &preMean, rstd: &preRstd)
            lnPreInput = input
            patches = record == .weightGradients ? cols : []
        } else {
            Kernels.layerNorm(input, &x, rows: n * t, width: c, weight: w.preW.pointer, bias: w.preB.pointer, eps: shape.eps)
        }
        images = n; appendedCount = a; recorded = record
        x.withUnsafeMutableBufferPointer { xb in
            Transformer.forward(xb.baseAddress!, layout: layout, blocks: w.blocks, shape: shape, causal: false, workspace: workspace,
                                saving: keep, prompts: prompts, outputRows: record == .none ? (0..<n).map { $0 * t } : nil,
                                packed: packed?.blocks)
        }
        var classTokens = [Float](repeating: 0, count: n * c)
        for img in 0..<n { for i in 0..<c { classTokens[img * c + i] = x[img * t * c + i] } }
        return head.forward(classTokens, rows: n, width: c, embed: e, weights: Self.head(w), eps: shape.eps)
    }

    /// For dLoss/d(features) of the last recording forward: the appended tokens' gradient (summed over the images;
    /// nil without appended tokens); with `gradients` (which needs `.weightGradients`), every weight's gradient is
    /// accumulated into it.
    @discardableResult
    func backward(_ df: [Float], weights w: VisionWeights, gradients: VisionWeights? = nil, prompts: DeepPrompts? = nil) -> [Float]? {
        guard let saved, recorded != .none else { preconditionFailure("backward needs a forward that recorded") }
        precondition(gradients == nil || recorded == .weightGradients, "weight gradients need a forward recording them")
        let n = images, c = shape.width, p = config.patchSize, g = config.grid, a = appendedCount, t = 1 + g * g + a
        let dclass = head.backward(df, weights: Self.head(w), gradients: gradients.map(Self.head))
        var dx = [Float](repeating: 0, count: n * t * c)
        for img in 0..<n { for i in 0..<c { dx[img * t * c + i] = dclass[img * c + i] } }
        Transformer.backward(&dx, blocks: w.blocks, saved: saved, workspace: workspace,
                             gradients: gradients?.blocks, prompts: prompts)
        var dinput = [Float](repeating: 0, count: n * t * c)
        Kernels.layerNormBackward(dx, lnPreInput, mean: preMean, rstd: preRstd, weight: w.preW.pointer, into: &dinput, rows: n * t, width: c,
                                  weightGradient: gradients?.preW.pointer, biasGradient: gradients?.preB.pointer)
        let rows = Self.rowSources(images: n, grid: g, appended: a)
        if let gradients {
            // Class embedding, positions, and the patch embedding (a linear layer over the im2col rows).
            var dembedded = [Float](repeating: 0, count: n * g * g * c)
            Embedding.scatter(dinput, index: rows.position, width: c, into: gradients.positions)
            Embedding.scatter(dinput, index: rows.classToken, width: c, into: gradients.classEmbedding)
            Embedding.scatter(dinput, index: rows.patch, width: c, into: &dembedded)
            Kernels.linearBackward(dy: dembedded, x: patches, weight: w.patch.pointer, rows: n * g * g, inFeatures: 3 * p * p, outFeatures: c,
                                   dx: nil, weightGradient: gradients.patch.pointer)
        }
        guard a > 0 else { return nil }
        var dappended = [Float](repeating: 0, count: a * c)
        Embedding.scatter(dinput, index: rows.appended, width: c, into: &dappended)
        return dappended
    }

    /// The tower's linear layers in bfloat16 (the patch embedding and every block's four), packed once per model.
    struct PackedVision {
        let patch: BFloat16.PackedWeight
        let blocks: [PackedBlock]

        init(_ w: VisionWeights, config: CLIPConfig) {
            let p = config.patchSize
            patch = .init(w.patch, outFeatures: config.vision.width, inFeatures: 3 * p * p)
            blocks = w.blocks.map { PackedBlock($0, shape: config.vision) }
        }
    }

    /// The head's tensors: ln_post and the projection.
    static func head(_ w: VisionWeights) -> PooledHead.Tensors {
        PooledHead.Tensors(lnWeight: w.postW, lnBias: w.postB, projection: w.projection)
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
