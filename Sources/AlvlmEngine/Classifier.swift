import Foundation

/// A CLIP classifier: normalised class text features and the model's logit scale.
/// Probabilities are softmax(exp(logit_scale) · cos(image feature, class feature)).
public struct Classifier {
    public let classNames: [String]
    /// [classes, E], unit rows.
    public let textFeatures: [Float]
    public let logitScale: Float
    public var classes: Int { classNames.count }
    public var width: Int { textFeatures.count / max(1, classes) }

    /// The class features as given (before normalisation), for double-precision consumers.
    public let rawTextFeatures: [Float]

    public init(classNames: [String], textFeatures: [Float], logitScale: Float) {
        self.classNames = classNames
        self.rawTextFeatures = textFeatures
        self.textFeatures = normalizedRows(textFeatures, width: textFeatures.count / max(1, classNames.count))
        self.logitScale = logitScale
    }

    /// Zero-shot: class features from one or more templates (`{}` is the class name, `_` read as a space);
    /// with several templates the unit features are averaged and renormalised (CLIP's prompt ensembling).
    public static func zeroShot(model: CLIPModel, classNames: [String], templates: [String] = ["a photo of a {}."]) throws -> Classifier {
        guard let tokenizer = model.tokenizer else { throw EngineError(.argument, "the model has no tokenizer files", path: model.source) }
        guard !classNames.isEmpty else { throw EngineError(.argument, "no class names") }
        guard !templates.isEmpty, templates.allSatisfy({ $0.contains("{}") }) else {
            throw EngineError(.argument, "every template needs a {} where the class name goes")
        }
        let e = model.config.embedDim
        var sum = [Float](repeating: 0, count: classNames.count * e)
        for template in templates {
            let ids = try classNames.map { name -> [Int] in
                let text = template.replacingOccurrences(of: "{}", with: name.replacingOccurrences(of: "_", with: " "))
                let ids = tokenizer.encode(text, truncate: false)
                guard ids.count <= model.config.contextLength else {
                    throw EngineError(.argument, "the prompt \"\(text)\" is \(ids.count) tokens, more than \(model.config.contextLength)")
                }
                return ids
            }
            let f = normalizedRows(try model.encodeTexts(ids), width: e)
            for i in 0..<sum.count { sum[i] += f[i] }
        }
        return Classifier(classNames: classNames, textFeatures: sum, logitScale: model.logitScale)
    }

    /// The classifier of a trained prompt learner.
    public init(learner: PromptLearner) {
        self.init(classNames: learner.classNames, textFeatures: learner.textFeatures(), logitScale: learner.model.logitScale)
    }

    /// Class probabilities [N, classes] for image features [N, E] (normalised here).
    public func probabilities(_ imageFeatures: [Float]) throws -> [Float] {
        let e = width
        guard e > 0, imageFeatures.count % e == 0 else {
            throw EngineError(.argument, "image features of \(imageFeatures.count) values are not rows of width \(e)")
        }
        if imageFeatures.contains(where: { !$0.isFinite }) { throw EngineError(.numeric, "image features contain NaN or infinity") }
        let n = imageFeatures.count / e, c = classes
        let images = normalizedRows(imageFeatures, width: e)
        var logits = Products.rows(images, textFeatures, width: e, scale: Float(exp(Double(logitScale))))
        for r in 0..<n {
            logits.withUnsafeMutableBufferPointer { VectorMath.softmaxRow($0.baseAddress! + r * c, count: c, width: c) }
        }
        return logits
    }
}

/// What a set of predictions says about a classifier on labelled data.
public struct Evaluation: Sendable {
    public let classes: Int
    public let count: Int
    public let accuracy: Double
    /// Accuracy per class (nil for classes absent from the labels).
    public let perClassAccuracy: [Double?]
    /// confusion[true][predicted]
    public let confusion: [[Int]]
    /// Expected calibration error over `bins` equal-width confidence bins.
    public let expectedCalibrationError: Double
    public let predictedHistogram: [Int]
    public let trueHistogram: [Int]
    /// The largest ratio of predicted to true count over the classes present (1: predictions follow the class mix).
    public var predictionSkew: Double {
        zip(predictedHistogram, trueHistogram).filter { $0.1 > 0 }.map { Double($0.0) / Double($0.1) }.max() ?? .nan
    }
    /// Reliability diagram: per bin (mean confidence, accuracy, count).
    public let reliability: [(confidence: Double, accuracy: Double, count: Int)]

    public init(probabilities p: [Float], labels: [Int], classes c: Int, bins: Int = 15) throws {
        let n = labels.count
        guard n > 0 else { throw EngineError(.argument, "nothing to evaluate: no labels") }
        guard p.count == n * c else { throw EngineError(.argument, "\(p.count) probabilities for \(n) labels of \(c) classes") }
        if let bad = labels.first(where: { $0 < 0 || $0 >= c }) { throw EngineError(.argument, "label \(bad) is outside 0...\(c - 1)") }
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: c), count: c)
        var binConf = [Double](repeating: 0, count: bins), binCorrect = [Double](repeating: 0, count: bins), binCount = [Int](repeating: 0, count: bins)
        var correct = 0
        for r in 0..<n {
            var best = 0
            for k in 1..<c where p[r * c + k] > p[r * c + best] { best = k }
            confusion[labels[r]][best] += 1
            let conf = Double(p[r * c + best])
            let b = min(bins - 1, max(0, Int((conf * Double(bins)).rounded(.up)) - 1))
            binConf[b] += conf; binCount[b] += 1
            if best == labels[r] { correct += 1; binCorrect[b] += 1 }
        }
        self.classes = c; self.count = n
        self.accuracy = Double(correct) / Double(n)
        self.confusion = confusion
        self.perClassAccuracy = (0..<c).map { k in
            let total = confusion[k].reduce(0, +)
            return total == 0 ? nil : Double(confusion[k][k]) / Double(total)
        }
        self.predictedHistogram = (0..<c).map { k in confusion.reduce(0) { $0 + $1[k] } }
        self.trueHistogram = confusion.map { $0.reduce(0, +) }
        var ece = 0.0
        var reliability: [(Double, Double, Int)] = []
        for b in 0..<bins {
            guard binCount[b] > 0 else { reliability.append((0, 0, 0)); continue }
            let m = Double(binCount[b])
            ece += m / Double(n) * abs(binCorrect[b] / m - binConf[b] / m)
            reliability.append((binConf[b] / m, binCorrect[b] / m, binCount[b]))
        }
        self.expectedCalibrationError = ece
        self.reliability = reliability
    }
}
