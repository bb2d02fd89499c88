import Foundation

/// What every prompt learner (CoOp, VPT, MaPLe) minimises: the mean cross-entropy of
///   logits [B, C] = exp(logit_scale) · normalize(images [B, E]) · normalize(texts [C, E])ᵀ
/// with the gradients w.r.t. the raw (not normalised) features of whichever side is trained.
enum PromptObjective {
    /// Logits [B, C] of raw image features against raw class text features.
    static func logits(images: [Float], texts: [Float], width e: Int, logitScale: Float) -> [Float] {
        let b = images.count / e, c = texts.count / e
        let (ui, _) = L2Normalization.forward(images, width: e), (ut, _) = L2Normalization.forward(texts, width: e)
        precondition(images.count == b * e && texts.count == c * e, "features are not rows of width \(e)")
        return Products.rows(ui, ut, width: e, scale: Float(exp(Double(logitScale))))
    }

    /// The loss; dImages [B, E] and dTexts [C, E] when asked for.
    static func evaluate(images: [Float], texts: [Float], width e: Int, labels: [Int], logitScale: Float,
                         imageGradient: Bool, textGradient: Bool) -> (loss: Double, dimages: [Float]?, dtexts: [Float]?) {
        let b = labels.count, c = texts.count / e
        precondition(images.count == b * e, "image features are not [\(b), \(e)]")
        let (ui, ni) = L2Normalization.forward(images, width: e), (ut, nt) = L2Normalization.forward(texts, width: e)
        let scale = Float(exp(Double(logitScale)))
        let logits = Products.rows(ui, ut, width: e, scale: scale)
        let (loss, dlogits) = SoftmaxCrossEntropy.evaluate(logits, rows: b, classes: c, labels: labels)
        // d(unit images) = scale · dlogits · unit texts; d(unit texts) = scale · dlogitsᵀ · unit images.
        let (dui, dut) = Products.rowsBackward(dlogits, ui, ut, width: e, scale: scale, inputs: (imageGradient, textGradient))
        return (loss, dui.map { L2Normalization.backward($0, unit: ui, norms: ni, width: e) },
                dut.map { L2Normalization.backward($0, unit: ut, norms: nt, width: e) })
    }
}
