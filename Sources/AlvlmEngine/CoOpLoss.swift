import Foundation

/// CoOp's objective: mean cross-entropy of logits = exp(logit_scale) · cos(image feature, class text feature).
extension PromptLearner {
    /// Loss and its gradient w.r.t. the context for a batch of image features [B, E] (normalised here) and labels.
    public func lossAndGradient(imageFeatures: [Float], labels: [Int]) -> (loss: Double, gradient: [Float]) {
        let e = model.config.embedDim, cls = classes, b = labels.count
        let images = normalizedRows(imageFeatures, width: e)
        let features = run(saving: true)
        var norms = [Float](repeating: 0, count: cls)
        var text = features
        for k in 0..<cls {
            var s: Float = 0
            for i in 0..<e { s += text[k * e + i] * text[k * e + i] }
            norms[k] = s.squareRoot()
            for i in 0..<e { text[k * e + i] /= norms[k] }
        }
        let scale = Float(exp(Double(model.logitScale)))
        var logits = [Float](repeating: 0, count: b * cls)
        logits.withUnsafeMutableBufferPointer { l in
            BLAS.gemm(transB: true, m: b, n: cls, k: e, alpha: scale, a: images, lda: e, b: text, ldb: e, c: l.baseAddress!, ldc: cls)
        }
        // Softmax cross-entropy; dlogits = (p - onehot) / B.
        var loss = 0.0
        var dlogits = [Float](repeating: 0, count: b * cls)
        for r in 0..<b {
            let row = logits[(r * cls)..<((r + 1) * cls)]
            let m = row.max()!
            var z = 0.0
            for v in row { z += exp(Double(v - m)) }
            loss += log(z) - Double(logits[r * cls + labels[r]] - m)
            for k in 0..<cls {
                let p = exp(Double(logits[r * cls + k] - m)) / z
                dlogits[r * cls + k] = Float((p - (k == labels[r] ? 1 : 0)) / Double(b))
            }
        }
        loss /= Double(b)
        // d(normalised text) = scale · dlogitsᵀ · images, then through the L2 normalisation.
        var dtext = [Float](repeating: 0, count: cls * e)
        dtext.withUnsafeMutableBufferPointer { d in
            BLAS.gemm(transA: true, m: cls, n: e, k: b, alpha: scale, a: dlogits, lda: cls, b: images, ldb: e, c: d.baseAddress!, ldc: e)
        }
        for k in 0..<cls {
            var dot: Float = 0
            for i in 0..<e { dot += text[k * e + i] * dtext[k * e + i] }
            for i in 0..<e { dtext[k * e + i] = (dtext[k * e + i] - text[k * e + i] * dot) / norms[k] }
        }
        return (loss, backward(featureGradient: dtext))
    }
}

/// Rows scaled to unit L2 norm (zero rows stay zero).
public func normalizedRows(_ x: [Float], width: Int) -> [Float] {
    var out = x
    for r in 0..<(x.count / width) {
        var s: Float = 0
        for i in 0..<width { s += x[r * width + i] * x[r * width + i] }
        let inv = s > 0 ? 1 / s.squareRoot() : 0
        for i in 0..<width { out[r * width + i] *= inv }
    }
    return out
}
