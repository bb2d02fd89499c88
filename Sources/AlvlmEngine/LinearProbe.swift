import Foundation

/// The classic linear-probe baseline (Radford et al., CLIP, 2021): multinomial logistic regression on
/// L2-normalised image features, minimised by L-BFGS, with the L2 strength chosen on a held-out split.
public struct LinearProbe {
    public let classes: Int
    public let width: Int
    /// [classes, width + 1]: weights, then the bias.
    public let parameters: [Double]
    public let l2: Double

    /// Mean cross-entropy + l2/2 · ||W||² (bias unpenalised) and its gradient, for parameters θ.
    static func objective(_ theta: [Double], x: [Float], labels: [Int], classes c: Int, width d: Int, l2: Double) -> (Double, [Double]) {
        let n = labels.count, stride = d + 1
        var logits = [Double](repeating: 0, count: n * c)
        for r in 0..<n {
            let row = r * d
            for k in 0..<c {
                var s = theta[k * stride + d]
                for i in 0..<d { s += theta[k * stride + i] * Double(x[row + i]) }
                logits[r * c + k] = s
            }
        }
        var (loss, dlogits) = SoftmaxCrossEntropy.evaluate(logits, rows: n, classes: c, labels: labels)
        var grad = [Double](repeating: 0, count: theta.count)
        for r in 0..<n {
            let row = r * d
            for k in 0..<c {
                let g = dlogits[r * c + k]
                for i in 0..<d { grad[k * stride + i] += g * Double(x[row + i]) }
                grad[k * stride + d] += g
            }
        }
        for k in 0..<c {
            for i in 0..<d {
                loss += 0.5 * l2 * theta[k * stride + i] * theta[k * stride + i]
                grad[k * stride + i] += l2 * theta[k * stride + i]
            }
        }
        return (loss, grad)
    }

    /// Fits with a fixed L2 strength.
    public static func fit(features: [Float], labels: [Int], classes: Int, l2: Double, maxIterations: Int = 300) throws -> LinearProbe {
        let n = labels.count
        guard n > 0, classes > 0, features.count % n == 0 else { throw EngineError(.argument, "features and labels do not match") }
        let d = features.count / n
        if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) { throw EngineError(.argument, "label \(bad) is outside 0...\(classes - 1)") }
        if features.contains(where: { !$0.isFinite }) { throw EngineError(.numeric, "features contain NaN or infinity") }
        let x = normalizedRows(features, width: d)
        let theta = LBFGS.minimize([Double](repeating: 0, count: classes * (d + 1)), maxIterations: maxIterations) {
            objective($0, x: x, labels: labels, classes: classes, width: d, l2: l2)
        }
        return LinearProbe(classes: classes, width: d, parameters: theta, l2: l2)
    }

    /// Chooses the L2 strength on a held-out `validationFraction` of the samples (a seeded, stratified split)
    /// from a log grid, then refits on all samples.
    public static func fitSelectingL2(features: [Float], labels: [Int], classes: Int,
                                      grid: [Double] = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1],
                                      validationFraction: Double = 0.25, seed: UInt64 = 0) throws -> LinearProbe {
        let n = labels.count
        guard n >= 2 else { return try fit(features: features, labels: labels, classes: classes, l2: grid[grid.count / 2]) }
        let d = features.count / n
        var rng = SeededRandom(seed: seed)
        var validation: [Int] = []
        for k in 0..<classes {
            var members = (0..<n).filter { labels[$0] == k }
            for i in stride(from: members.count - 1, to: 0, by: -1) { members.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            validation += members.prefix(members.count >= 2 ? max(1, Int(Double(members.count) * validationFraction)) : 0)
        }
        let held = Set(validation)
        let train = (0..<n).filter { !held.contains($0) }
        guard !validation.isEmpty, !train.isEmpty else {
            return try fit(features: features, labels: labels, classes: classes, l2: grid[grid.count / 2])
        }
        func rows(_ idx: [Int]) -> [Float] { idx.flatMap { features[($0 * d)..<(($0 + 1) * d)] } }
        var best = (accuracy: -1.0, l2: grid[0])
        for l2 in grid {
            let probe = try fit(features: rows(train), labels: train.map { labels[$0] }, classes: classes, l2: l2)
            let predicted = probe.predict(rows(validation))
            let accuracy = Double(zip(predicted, validation).filter { $0 == labels[$1] }.count) / Double(validation.count)
            if accuracy > best.accuracy { best = (accuracy, l2) }
        }
        return try fit(features: features, labels: labels, classes: classes, l2: best.l2)
    }

    /// Class probabilities [N, classes].
    public func probabilities(_ features: [Float]) -> [Float] {
        let x = normalizedRows(features, width: width), n = features.count / width, stride = width + 1
        var out = [Float](repeating: 0, count: n * classes)
        for r in 0..<n {
            var logits = (0..<classes).map { k -> Double in
                var s = parameters[k * stride + width]
                for i in 0..<width { s += parameters[k * stride + i] * Double(x[r * width + i]) }
                return s
            }
            let m = logits.max()!
            logits = logits.map { exp($0 - m) }
            let z = logits.reduce(0, +)
            for k in 0..<classes { out[r * classes + k] = Float(logits[k] / z) }
        }
        return out
    }

    public func predict(_ features: [Float]) -> [Int] {
        let p = probabilities(features)
        return (0..<(p.count / classes)).map { r in (0..<classes).max { p[r * classes + $0] < p[r * classes + $1] }! }
    }
}
