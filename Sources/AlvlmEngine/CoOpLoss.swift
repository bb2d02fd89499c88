import Foundation

/// CoOp's objective: mean cross-entropy of logits = exp(logit_scale) · cos(image feature, class text feature).
extension PromptLearner {
    /// Loss and its gradient w.r.t. the context for a batch of image features [B, E] (normalised here) and labels.
    public func lossAndGradient(imageFeatures: [Float], labels: [Int]) -> (loss: Double, gradient: [Float]) {
        let e = model.config.embedDim, cls = classes, b = labels.count
        let images = normalizedRows(imageFeatures, width: e)
        let (text, norms) = L2Normalization.forward(run(saving: true), width: e)
        let scale = Float(exp(Double(model.logitScale)))
        var logits = [Float](repeating: 0, count: b * cls)
        logits.withUnsafeMutableBufferPointer { l in
            BLAS.gemm(transB: true, m: b, n: cls, k: e, alpha: scale, a: images, lda: e, b: text, ldb: e, c: l.baseAddress!, ldc: cls)
        }
        let (loss, dlogits) = SoftmaxCrossEntropy.evaluate(logits, rows: b, classes: cls, labels: labels)
        // d(normalised text) = scale · dlogitsᵀ · images, then through the L2 normalisation.
        var dtext = [Float](repeating: 0, count: cls * e)
        dtext.withUnsafeMutableBufferPointer { d in
            BLAS.gemm(transA: true, m: cls, n: e, k: b, alpha: scale, a: dlogits, lda: cls, b: images, ldb: e, c: d.baseAddress!, ldc: e)
        }
        return (loss, backward(featureGradient: L2Normalization.backward(dtext, unit: text, norms: norms, width: e)))
    }
}
