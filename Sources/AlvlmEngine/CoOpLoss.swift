import Foundation

/// CoOp's objective (`PromptObjective`) with the image features fixed: only the text side is trained.
extension PromptLearner {
    /// Loss and its gradient w.r.t. the context for a batch of image features [B, E] (normalised here) and labels.
    public func lossAndGradient(imageFeatures: [Float], labels: [Int]) -> (loss: Double, gradient: [Float]) {
        let (loss, _, dtext) = PromptObjective.evaluate(images: imageFeatures, texts: run(saving: true), width: model.config.embedDim,
                                                        labels: labels, logitScale: model.logitScale, imageGradient: false, textGradient: true)
        return (loss, backward(featureGradient: dtext!))
    }
}
