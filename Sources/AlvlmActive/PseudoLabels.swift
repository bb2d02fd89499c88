import AlvlmEngine
import Foundation

/// Labels for free: samples the model is sure about get its prediction as their label, for training. Every round
/// records how many were used, how many oracle labels they saved, and (for the report only, from the simulation's
/// ground truth, never through the oracle) how many were right.
public enum PseudoLabelling: Codable, Equatable, Sendable {
    /// CB+SQ's selective querying (Kim et al., TMLR 2025; github ml-postech/active-prompt-learning): a queried sample
    /// whose confidence reaches its predicted class's threshold, the mean confidence of the oracle-labelled samples of
    /// that class under the current model, takes its predicted class instead of an oracle label (a label saved).
    /// No threshold exists for a class without labels, so the first round asks for everything.
    case selectiveQuerying
    /// PSP-style filtering (ICLR 2026): unlabelled samples whose confidence is at least `threshold` and whose
    /// prediction is the same on `views` augmented views of the image join this round's training with it.
    case agreement(views: Int, threshold: Double)

    public var description: String {
        switch self {
        case .selectiveQuerying: "selective querying (class-wise confidence thresholds)"
        case let .agreement(views, threshold): String(format: "agreement pseudo-labels (confidence ≥ %.2f, %d views agree)", threshold, views)
        }
    }
}

extension Experiment {
    /// Selective querying's threshold per class: the mean top-class probability of the oracle-labelled samples of that
    /// class (their true label), under the model the selection used; nil for a class without labels.
    func selectiveQueryingThresholds(_ context: SelectionContext, rowOf: [Int: Int]) -> [Double?] {
        var sum = [Double](repeating: 0, count: pool.classes), count = [Int](repeating: 0, count: pool.classes)
        for (id, label) in state.labeled {
            guard let r = rowOf[id] else { continue }
            sum[label] += context.probabilityRow(r).max() ?? 0
            count[label] += 1
        }
        return (0..<pool.classes).map { count[$0] > 0 ? sum[$0] / Double(count[$0]) : nil }
    }

    /// The queried rows selective querying labels itself (row -> predicted class).
    func selectivelyQueried(_ context: SelectionContext, rows: [Int], rowOf: [Int: Int]) -> [Int: Int] {
        let thresholds = selectiveQueryingThresholds(context, rowOf: rowOf)
        var out: [Int: Int] = [:]
        for r in rows {
            let p = context.probabilityRow(r)
            let c = Uncertainty.argmax(p)
            if let t = thresholds[c], p[p.startIndex + c] >= t { out[r] = c }
        }
        return out
    }

    /// Agreement pseudo-labels: the unlabelled rows (not queried this round) at least `threshold` confident whose
    /// prediction holds on `views` random-resized-crop-and-flip views, encoded by the frozen image tower and classified
    /// by the current model (row -> class).
    func agreementPseudoLabels(_ context: SelectionContext, exclude: Set<Int>, views: Int, threshold: Double, round: Int,
                               cancel: CancellationToken?) throws -> [Int: Int] {
        if case .imagePrompts = state.config.trainer {
            throw EngineError(.argument, "agreement pseudo-labels encode views with the frozen image tower: use them with coop, linear_probe or zeroshot_only")
        }
        var candidates: [(row: Int, label: Int)] = []
        for r in context.unlabeled where !exclude.contains(r) {
            let p = context.probabilityRow(r)
            let c = Uncertainty.argmax(p)
            if p[p.startIndex + c] >= threshold { candidates.append((r, c)) }
        }
        guard !candidates.isEmpty, views >= 1 else { return [:] }
        let ids = trainFeatures.ids
        var out: [Int: Int] = [:]
        let preprocessor = Preprocessor(config: model.config)
        let classify = try classProbabilities()
        let chunk = 64
        for start in stride(from: 0, to: candidates.count, by: chunk) {
            if cancel?.isCancelled == true { throw EngineError(.cancelled, "pseudo-labelling cancelled") }
            let part = Array(candidates[start..<min(candidates.count, start + chunk)])
            let pixels = try pool.pixels(part.map { ids[$0.row] }, views: views, seed: seed(round: round, purpose: "pseudo"), preprocessor: preprocessor)
            let features = model.encodeImages(pixels, count: part.count * views, batch: 64)
            let p = try classify(features)
            let k = pool.classes
            for (i, c) in part.enumerated() {
                let agree = (0..<views).allSatisfy { v in
                    let row = i * views + v
                    return Uncertainty.argmax(p[(row * k)..<((row + 1) * k)].map(Double.init)[...]) == c.label
                }
                if agree { out[c.row] = c.label }
            }
        }
        return out
    }

    /// Class probabilities of image features under the current model (its probe, or its classifier, built once).
    func classProbabilities() throws -> ([Float]) throws -> [Float] {
        if let probe { return { probe.probabilities($0) } }
        let classifier = try currentClassifier()
        return { try classifier.probabilities($0) }
    }
}
