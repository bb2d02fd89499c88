import Foundation

/// What every prompt learner (CoOp, VPT, MaPLe) minimises: the mean cross-entropy of
///   logits [B, C] = exp(logit_scale) · normalize(images [B, E]) · normalize(texts [C, E])ᵀ
/// with the gradients w.r.t. the raw (not normalised) features of whichever side is trained.
enum PromptObjective {
    /// Logits [B, C] of raw image features against raw class text features.
    static func logits(images: [Float], texts: [Float], width e: Int, logitScale: Float) -> [Float] {
        let b = images.count / e, c = texts.count / e
        let (ui, _) = L2Normalization.forward(images, width: e), (ut, _) = L2Normalization.forward(texts, width: e)
        var out = [Float](repeating: 0, count: b * c)
        out.withUnsafeMutableBufferPointer { l in
            BLAS.gemm(transB: true, m: b, n: c, k: e, alpha: Float(exp(Double(logitScale))), a: ui, lda: e, b: ut, ldb: e,
                      c: l.baseAddress!, ldc: c)
        }
        return out
    }

    /// The loss; dImages [B, E] and dTexts [C, E] when asked for.
    static func evaluate(images: [Float], texts: [Float], width e: Int, labels: [Int], logitScale: Float,
                         imageGradient: Bool, textGradient: Bool) -> (loss: Double, dimages: [Float]?, dtexts: [Float]?) {
        let b = labels.count, c = texts.count / e
        precondition(images.count == b * e, "image features are not [\(b), \(e)]")
        let (ui, ni) = L2Normalization.forward(images, width: e), (ut, nt) = L2Normalization.forward(texts, width: e)
        let scale = Float(exp(Double(logitScale)))
        var logits = [Float](repeating: 0, count: b * c)
        logits.withUnsafeMutableBufferPointer { l in
            BLAS.gemm(transB: true, m: b, n: c, k: e, alpha: scale, a: ui, lda: e, b: ut, ldb: e, c: l.baseAddress!, ldc: c)
        }
        let (loss, dlogits) = SoftmaxCrossEntropy.evaluate(logits, rows: b, classes: c, labels: labels)
        var dimages: [Float]? = nil, dtexts: [Float]? = nil
        if imageGradient {
            // d(unit images) = scale · dlogits · unit texts
            var d = [Float](repeating: 0, count: b * e)
            d.withUnsafeMutableBufferPointer { p in
                BLAS.gemm(m: b, n: e, k: c, alpha: scale, a: dlogits, lda: c, b: ut, ldb: e, c: p.baseAddress!, ldc: e)
            }
            dimages = L2Normalization.backward(d, unit: ui, norms: ni, width: e)
        }
        if textGradient {
            // d(unit texts) = scale · dlogitsᵀ · unit images
            var d = [Float](repeating: 0, count: c * e)
            d.withUnsafeMutableBufferPointer { p in
                BLAS.gemm(transA: true, m: c, n: e, k: b, alpha: scale, a: dlogits, lda: c, b: ui, ldb: e, c: p.baseAddress!, ldc: e)
            }
            dtexts = L2Normalization.backward(d, unit: ut, norms: nt, width: e)
        }
        return (loss, dimages, dtexts)
    }
}
