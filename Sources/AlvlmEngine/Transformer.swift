/// The pre-LN residual transformer shared by CLIP's two towers:
///   x += out_proj(attention(ln_1(x)));  x += fc2(act(fc1(ln_2(x))))
/// Weights use nn.Linear layout [out, in]; Q, K and V are fused into one [3C, C] matrix.
/// The forward pass can record what the backward pass (beside it) needs: input gradients always,
/// weight gradients when the record keeps each linear layer's input too (pretraining).

public struct TowerShape: Equatable, Sendable {
    public var width: Int
    public var layers: Int
    public var heads: Int
    public var mlp: Int
    public var eps: Float
    public var activation: Activation

    public init(width: Int, layers: Int, heads: Int, mlp: Int, eps: Float = 1e-5, activation: Activation = .quickGELU) {
        self.width = width; self.layers = layers; self.heads = heads; self.mlp = mlp; self.eps = eps; self.activation = activation
    }

    /// Floating-point operations (2 per multiply-add) of the layers for one sequence of `t` tokens.
    func flops(tokens t: Int) -> Double {
        let c = Double(width), m = Double(mlp), tt = Double(t)
        return Double(layers) * (2 * tt * c * (3 * c + c + 2 * m) + 4 * tt * tt * c)
    }
}

/// One block's tensors (views into its model's storage).
public struct BlockWeights {
    public internal(set) var ln1w: Tensor, ln1b: Tensor
    public internal(set) var qkvw: Tensor, qkvb: Tensor     // [3C, C], [3C]
    public internal(set) var projw: Tensor, projb: Tensor   // [C, C], [C]
    public internal(set) var ln2w: Tensor, ln2b: Tensor
    public internal(set) var fc1w: Tensor, fc1b: Tensor     // [M, C], [M]
    public internal(set) var fc2w: Tensor, fc2b: Tensor     // [C, M], [C]
}

/// Scratch buffers for a pass over `rows` tokens; grown on demand and reused.
final class Workspace {
    var ln: [Float] = []       // [rows, C]
    var qkv: [Float] = []      // [rows, 3C]
    var atty: [Float] = []     // [rows, C]
    var hidden: [Float] = []   // [rows, max(M, 3C)]
    var scores: [Float] = []   // [cores, T, T]

    func reserve(_ layout: AttentionLayout, shape s: TowerShape) {
        func grow(_ a: inout [Float], _ n: Int) { if a.count < n { a = .init(repeating: 0, count: n) } }
        let rows = layout.rows
        grow(&ln, rows * s.width)
        grow(&atty, rows * s.width)
        grow(&qkv, rows * 3 * s.width)
        grow(&hidden, rows * max(s.mlp, 3 * s.width))
        grow(&scores, Engine.cores * layout.scoreBlock)
    }
}

/// What the backward pass needs from the forward pass, per layer: the block input and its LN statistics,
/// qkv, attention probabilities, the mid-block residual and its LN statistics, and the MLP pre-activation.
/// Sized once for (batch, tokens) and reused across steps.
final class SavedActivations {
    let layout: AttentionLayout, shape: TowerShape
    var input: [Float], mean1: [Float], rstd1: [Float]
    var qkv: [Float], probs: [Float]
    var mid: [Float], mean2: [Float], rstd2: [Float]
    var preact: [Float]
    /// With weight gradients: the inputs of the qkv, out_proj, fc1 and fc2 layers (empty otherwise).
    let keepsLinearInputs: Bool
    var ln1: [Float], attended: [Float], ln2: [Float], hidden: [Float]

    convenience init(batch: Int, tokens: Int, shape s: TowerShape, linearInputs: Bool = false) {
        self.init(.sequences(batch: batch, tokens: tokens), shape: s, linearInputs: linearInputs)
    }

    init(_ layout: AttentionLayout, shape s: TowerShape, linearInputs: Bool = false) {
        self.layout = layout; self.shape = s
        let rows = layout.rows, l = s.layers
        keepsLinearInputs = linearInputs
        ln1 = linearInputs ? .init(repeating: 0, count: l * rows * s.width) : []
        attended = ln1; ln2 = ln1
        hidden = linearInputs ? .init(repeating: 0, count: l * rows * s.mlp) : []
        input = .init(repeating: 0, count: l * rows * s.width)
        mean1 = .init(repeating: 0, count: l * rows); rstd1 = mean1
        qkv = .init(repeating: 0, count: l * rows * 3 * s.width)
        probs = .init(repeating: 0, count: l * s.heads * layout.probabilitiesPerHead)
        mid = input
        mean2 = mean1; rstd2 = mean1
        preact = .init(repeating: 0, count: l * rows * s.mlp)
    }

    func fits(batch: Int, tokens: Int, shape: TowerShape, linearInputs: Bool = false) -> Bool {
        fits(.sequences(batch: batch, tokens: tokens), shape: shape, linearInputs: linearInputs)
    }

    func fits(_ layout: AttentionLayout, shape: TowerShape, linearInputs: Bool = false) -> Bool {
        self.layout == layout && self.shape == shape && keepsLinearInputs == linearInputs
    }

    /// What a tower's forward pass records into for `record`: the kept activations when they fit, else new ones
    /// (stored back into `saved`); nil for `.none`.
    static func reuse(_ saved: inout SavedActivations?, _ layout: AttentionLayout, shape: TowerShape, for record: TowerRecord) -> SavedActivations? {
        guard record != .none else { return nil }
        let linear = record == .weightGradients
        if !(saved?.fits(layout, shape: shape, linearInputs: linear) ?? false) { saved = SavedActivations(layout, shape: shape, linearInputs: linear) }
        return saved
    }
}

enum Transformer {
    /// Runs all blocks in place on x: [batch * tokens, C]; records activations into `saved` when given.
    static func forward(
        _ x: UnsafeMutablePointer<Float>, batch: Int, tokens: Int,
        blocks: [BlockWeights], shape s: TowerShape, causal: Bool, workspace ws: Workspace,
        saving saved: SavedActivations? = nil
    ) {
        forward(x, layout: .sequences(batch: batch, tokens: tokens), blocks: blocks, shape: s, causal: causal, workspace: ws, saving: saved)
    }

    /// Runs all blocks in place on x: [layout.rows, C]. A shared-prefix layout is always causal.
    /// `outputRows` (inference only): the rows the caller reads after the last block (CLS or EOT rows). The last
    /// block then runs its attention projection and MLP on those rows alone (its keys and values still come from
    /// every row); the other rows of x are left as the last block's input.
    static func forward(
        _ x: UnsafeMutablePointer<Float>, layout: AttentionLayout,
        blocks: [BlockWeights], shape s: TowerShape, causal: Bool, workspace ws: Workspace,
        saving saved: SavedActivations? = nil, prompts: DeepPrompts? = nil, outputRows: [Int]? = nil
    ) {
        precondition(outputRows == nil || saved == nil, "only rows the caller reads are computed: nothing to record for backward")
        let rows = layout.rows, c = s.width, m = s.mlp
        ws.reserve(layout, shape: s)
        if let saved {
            precondition(saved.fits(layout, shape: s, linearInputs: saved.keepsLinearInputs), "saved activations sized for another pass")
        }
        precondition(prompts?.values.keys.allSatisfy { $0 >= 0 && $0 < blocks.count } ?? true, "deep prompts for a layer the tower does not have")
        for (l, w) in blocks.enumerated() {
            prompts?.insert(into: x, layer: l, layout: layout, width: c)
            ws.ln.withUnsafeMutableBufferPointer { ln in
            ws.qkv.withUnsafeMutableBufferPointer { wqkv in
            ws.atty.withUnsafeMutableBufferPointer { atty in
            ws.hidden.withUnsafeMutableBufferPointer { hidden in
            ws.scores.withUnsafeMutableBufferPointer { scores in
            withSaved(saved, layer: l, rows: rows) { rec in
                let qkv = rec?.qkv ?? wqkv.baseAddress!
                let pre = rec?.preact ?? hidden.baseAddress!
                rec?.input.update(from: x, count: rows * c)
                // Attention half.
                Kernels.layerNorm(x, ln.baseAddress!, rows: rows, width: c, weight: w.ln1w.pointer, bias: w.ln1b.pointer, eps: s.eps,
                                  mean: rec?.mean1, rstd: rec?.rstd1)
                Kernels.linear(ln.baseAddress!, rows: rows, inFeatures: c, weight: w.qkvw.pointer, bias: w.qkvb.pointer, outFeatures: 3 * c, into: qkv)
                rec?.ln1?.update(from: ln.baseAddress!, count: rows * c)
                switch layout {
                case let .sequences(batch, tokens):
                    Kernels.attention(qkv: qkv, out: atty.baseAddress!, batch: batch, tokens: tokens, width: c, heads: s.heads,
                                      causal: causal, scratch: scores.baseAddress!, probs: rec?.probs)
                case let .sharedPrefix(prefix, batch, suffix):
                    Kernels.prefixAttention(qkv: qkv, out: atty.baseAddress!, prefix: prefix, batch: batch, suffix: suffix, width: c,
                                            heads: s.heads, scratch: scores.baseAddress!, probs: rec?.probs)
                }
                rec?.attended?.update(from: atty.baseAddress!, count: rows * c)
                if let keep = outputRows, l == blocks.count - 1 {
                    lastBlockTail(x, attended: atty.baseAddress!, rows: keep, weights: w, shape: s)
                    return
                }
                Kernels.linear(atty.baseAddress!, rows: rows, inFeatures: c, weight: w.projw.pointer, bias: w.projb.pointer, outFeatures: c, into: x, accumulate: true)
                rec?.mid.update(from: x, count: rows * c)
                // MLP half.
                Kernels.layerNorm(x, ln.baseAddress!, rows: rows, width: c, weight: w.ln2w.pointer, bias: w.ln2b.pointer, eps: s.eps,
                                  mean: rec?.mean2, rstd: rec?.rstd2)
                rec?.ln2?.update(from: ln.baseAddress!, count: rows * c)
                Kernels.linear(ln.baseAddress!, rows: rows, inFeatures: c, weight: w.fc1w.pointer, bias: w.fc1b.pointer, outFeatures: m, into: pre)
                Kernels.activate(pre, into: hidden.baseAddress!, count: rows * m, s.activation)
                rec?.hidden?.update(from: hidden.baseAddress!, count: rows * m)
                Kernels.linear(hidden.baseAddress!, rows: rows, inFeatures: m, weight: w.fc2w.pointer, bias: w.fc2b.pointer, outFeatures: c, into: x, accumulate: true)
            }}}}}}
        }
    }

    /// Backward of all blocks: on entry `dx` holds dLoss/d(output), on exit dLoss/d(input).
    /// With `gradients` (one per block, same layout as the weights), weight gradients are accumulated into it;
    /// that needs activations saved with `linearInputs`.
    static func backward(
        _ dx: UnsafeMutablePointer<Float>, blocks: [BlockWeights], saved: SavedActivations, workspace ws: Workspace,
        gradients: [BlockWeights]? = nil, prompts: DeepPrompts? = nil
    ) {
        precondition(gradients == nil || saved.keepsLinearInputs, "weight gradients need the linear layers' inputs saved")
        let s = saved.shape, layout = saved.layout
        let rows = layout.rows, c = s.width, m = s.mlp
        ws.reserve(layout, shape: s)
        for l in stride(from: blocks.count - 1, through: 0, by: -1) {
            let w = blocks[l]
            ws.ln.withUnsafeMutableBufferPointer { dln in
            ws.qkv.withUnsafeMutableBufferPointer { dqkv in
            ws.atty.withUnsafeMutableBufferPointer { datty in
            ws.hidden.withUnsafeMutableBufferPointer { dh in
            ws.scores.withUnsafeMutableBufferPointer { scores in
            withSaved(saved, layer: l, rows: rows) { rec in
                let rec = rec!
                let g = gradients?[l]
                // MLP half: x_out = mid + fc2(act(fc1(ln2(mid)))); dx holds d x_out and becomes d mid.
                withGradients(g, \.fc2w, \.fc2b) { dw, db in
                    Kernels.linearBackward(dy: dx, x: rec.hidden, weight: w.fc2w.pointer, rows: rows, inFeatures: m, outFeatures: c, dx: dh.baseAddress!,
                                           weightGradient: dw, biasGradient: db)
                }
                Kernels.activateBackward(dh.baseAddress!, preactivation: rec.preact, count: rows * m, s.activation)
                withGradients(g, \.fc1w, \.fc1b) { dw, db in
                    Kernels.linearBackward(dy: dh.baseAddress!, x: rec.ln2, weight: w.fc1w.pointer, rows: rows, inFeatures: c, outFeatures: m,
                                           dx: dln.baseAddress!, weightGradient: dw, biasGradient: db)
                }
                withGradients(g, \.ln2w, \.ln2b) { dw, db in
                    Kernels.layerNormBackward(dln.baseAddress!, rec.mid, mean: rec.mean2, rstd: rec.rstd2, weight: w.ln2w.pointer, into: dx, rows: rows, width: c,
                                              weightGradient: dw, biasGradient: db)
                }
                // Attention half: mid = x_in + proj(attn(ln1(x_in))); dx becomes d x_in.
                withGradients(g, \.projw, \.projb) { dw, db in
                    Kernels.linearBackward(dy: dx, x: rec.attended, weight: w.projw.pointer, rows: rows, inFeatures: c, outFeatures: c, dx: datty.baseAddress!,
                                           weightGradient: dw, biasGradient: db)
                }
                switch layout {
                case let .sequences(batch, tokens):
                    Kernels.attentionBackward(dout: datty.baseAddress!, qkv: rec.qkv, probs: rec.probs, dqkv: dqkv.baseAddress!,
                                              batch: batch, tokens: tokens, width: c, heads: s.heads, scratch: scores.baseAddress!)
                case let .sharedPrefix(prefix, batch, suffix):
                    Kernels.prefixAttentionBackward(dout: datty.baseAddress!, qkv: rec.qkv, probs: rec.probs, dqkv: dqkv.baseAddress!,
                                                    prefix: prefix, batch: batch, suffix: suffix, width: c, heads: s.heads,
                                                    scratch: scores.baseAddress!)
                }
                withGradients(g, \.qkvw, \.qkvb) { dw, db in
                    Kernels.linearBackward(dy: dqkv.baseAddress!, x: rec.ln1, weight: w.qkvw.pointer, rows: rows, inFeatures: c, outFeatures: 3 * c,
                                           dx: dln.baseAddress!, weightGradient: dw, biasGradient: db)
                }
                withGradients(g, \.ln1w, \.ln1b) { dw, db in
                    Kernels.layerNormBackward(dln.baseAddress!, rec.input, mean: rec.mean1, rstd: rec.rstd1, weight: w.ln1w.pointer, into: dx, rows: rows, width: c,
                                              weightGradient: dw, biasGradient: db)
                }
            }}}}}}
            prompts?.takeGradient(from: dx, layer: l, layout: layout, width: c)
        }
    }

    /// Backward of all blocks on an array of rows, with the blocks' weight gradients accumulated into `gradients`
    /// when given (the towers' entry).
    static func backward(_ dx: inout [Float], blocks: [BlockWeights], saved: SavedActivations, workspace ws: Workspace,
                         gradients: [BlockWeights]?, prompts: DeepPrompts?) {
        dx.withUnsafeMutableBufferPointer { d in
            backward(d.baseAddress!, blocks: blocks, saved: saved, workspace: ws, gradients: gradients, prompts: prompts)
        }
    }

    /// A block's pair of gradient pointers (nil, nil without gradients).
    static func withGradients(_ g: BlockWeights?, _ a: KeyPath<BlockWeights, Tensor>, _ b: KeyPath<BlockWeights, Tensor>,
                              _ body: (UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?) -> Void) {
        body(g?[keyPath: a].pointer, g?[keyPath: b].pointer)
    }

    /// Pointers to one layer's slices of the saved activations (the linear inputs only when kept).
    struct LayerRecord {
        let input, mean1, rstd1, qkv, probs, mid, mean2, rstd2, preact: UnsafeMutablePointer<Float>
        let ln1, attended, ln2, hidden: UnsafeMutablePointer<Float>?
    }

    static func withSaved(_ saved: SavedActivations?, layer l: Int, rows: Int, _ body: (LayerRecord?) -> Void) {
        guard let a = saved else { body(nil); return }
        let c = a.shape.width, tt = a.shape.heads * a.layout.probabilitiesPerHead
        a.input.withUnsafeMutableBufferPointer { input in
        a.mean1.withUnsafeMutableBufferPointer { mean1 in
        a.rstd1.withUnsafeMutableBufferPointer { rstd1 in
        a.qkv.withUnsafeMutableBufferPointer { qkv in
        a.probs.withUnsafeMutableBufferPointer { probs in
        a.mid.withUnsafeMutableBufferPointer { mid in
        a.mean2.withUnsafeMutableBufferPointer { mean2 in
        a.rstd2.withUnsafeMutableBufferPointer { rstd2 in
        a.preact.withUnsafeMutableBufferPointer { preact in
        a.ln1.withUnsafeMutableBufferPointer { ln1 in
        a.attended.withUnsafeMutableBufferPointer { attended in
        a.ln2.withUnsafeMutableBufferPointer { ln2 in
        a.hidden.withUnsafeMutableBufferPointer { hidden in
            let keep = a.keepsLinearInputs
            body(LayerRecord(
                input: input.baseAddress! + l * rows * c, mean1: mean1.baseAddress! + l * rows, rstd1: rstd1.baseAddress! + l * rows,
                qkv: qkv.baseAddress! + l * rows * 3 * c, probs: probs.baseAddress! + l * tt,
                mid: mid.baseAddress! + l * rows * c, mean2: mean2.baseAddress! + l * rows, rstd2: rstd2.baseAddress! + l * rows,
                preact: preact.baseAddress! + l * rows * a.shape.mlp,
                ln1: keep ? ln1.baseAddress! + l * rows * c : nil, attended: keep ? attended.baseAddress! + l * rows * c : nil,
                ln2: keep ? ln2.baseAddress! + l * rows * c : nil, hidden: keep ? hidden.baseAddress! + l * rows * a.shape.mlp : nil))
        }}}}}}}}}}}}}
    }

    @inline(__always)
    /// The last block after attention, on `keep` rows only: x[r] += proj(attended[r]), then x[r] += mlp(ln2(x[r])).
    static func lastBlockTail(_ x: UnsafeMutablePointer<Float>, attended: UnsafePointer<Float>, rows keep: [Int],
                              weights w: BlockWeights, shape s: TowerShape) {
        let k = keep.count, c = s.width, m = s.mlp
        var xk = [Float](repeating: 0, count: k * c), ak = xk, lnk = xk
        var pre = [Float](repeating: 0, count: k * m), hidden = pre
        for (j, r) in keep.enumerated() {
            for i in 0..<c { xk[j * c + i] = x[r * c + i]; ak[j * c + i] = attended[r * c + i] }
        }
        xk.withUnsafeMutableBufferPointer { xb in
            let xp = xb.baseAddress!
            Kernels.linear(ak, rows: k, inFeatures: c, weight: w.projw.pointer, bias: w.projb.pointer, outFeatures: c, into: xp, accumulate: true)
            Kernels.layerNorm(xp, &lnk, rows: k, width: c, weight: w.ln2w.pointer, bias: w.ln2b.pointer, eps: s.eps)
            pre.withUnsafeMutableBufferPointer { Kernels.linear(lnk, rows: k, inFeatures: c, weight: w.fc1w.pointer, bias: w.fc1b.pointer, outFeatures: m, into: $0.baseAddress!) }
            Kernels.activate(pre, into: &hidden, count: k * m, s.activation)
            Kernels.linear(hidden, rows: k, inFeatures: m, weight: w.fc2w.pointer, bias: w.fc2b.pointer, outFeatures: c, into: xp, accumulate: true)
        }
        for (j, r) in keep.enumerated() { for i in 0..<c { x[r * c + i] = xk[j * c + i] } }
    }
}
