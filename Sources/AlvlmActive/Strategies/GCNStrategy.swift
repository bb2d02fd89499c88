import AlvlmEngine
import Foundation

/// Sequential GCN for active learning (Caramalau, Bhattarai & Kim, CVPR 2021), trained natively:
/// a graph over a random subset of unlabelled samples plus the labelled ones (A = F Fᵀ − I, columns divided by
/// their sums, + I), a two-layer GCN (D → 128, ReLU, dropout 0.3 → 1, sigmoid) trained to tell labelled (1)
/// from unlabelled (0) with loss −mean log s(L) − 1.2 · mean log(1 − s(U)), Adam lr 1e-3, weight decay 5e-4,
/// 200 epochs. UncertainGCN picks the unlabelled nodes with the smallest |s − 0.1|; CoreGCN runs k-center
/// greedy on the first layer's features from the labelled nodes. Needs labels: with none it falls back to random.
public struct GCNStrategy: Strategy {
    public enum Variant: String, CaseIterable, Sendable { case uncertain = "uncertain-gcn", core = "core-gcn" }
    public var variant: Variant
    public var maxUnlabeledNodes = 10_000
    public var hidden = 128
    public var epochs = 200
    public var learningRate = 1e-3
    public var weightDecay = 5e-4
    public var dropout = 0.3
    public var unlabeledWeight = 1.2
    public var margin = 0.1

    public var name: String { variant.rawValue }
    public let citation = "Caramalau et al., CVPR 2021"
    public init(variant: Variant = .core) { self.variant = variant }

    public func scores(_ context: SelectionContext) -> [Double]? { nil }

    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        guard !context.labeled.isEmpty else { return randomFallback(context, budget: budget, rng: &rng) }
        // Nodes: a random subset of the unlabelled rows, then the labelled rows.
        var unlabeled = context.unlabeled
        if unlabeled.count > maxUnlabeledNodes {
            for i in 0..<maxUnlabeledNodes { unlabeled.swapAt(i, i + Int(rng.next() % UInt64(unlabeled.count - i))) }
            unlabeled = Array(unlabeled.prefix(maxUnlabeledNodes)).sorted()
        }
        guard budget <= unlabeled.count else { throw EngineError(.argument, "budget \(budget) exceeds the \(unlabeled.count) graph nodes") }
        let labeled = context.labeled.keys.sorted()
        let nodes = unlabeled + labeled
        var gcn = GCN(features: context.packed(nodes), nodes: nodes.count, width: context.width, hidden: hidden, rng: &rng)
        let isLabeled = (0..<nodes.count).map { $0 >= unlabeled.count }
        try gcn.train(isLabeled: isLabeled, epochs: epochs, learningRate: learningRate, weightDecay: weightDecay,
                      dropout: dropout, unlabeledWeight: unlabeledWeight, rng: &rng, cancel: cancel)
        let (scores, features) = gcn.evaluate()
        switch variant {
        case .uncertain:
            let order = (0..<unlabeled.count).sorted {
                let a = abs(scores[$0] - margin), b = abs(scores[$1] - margin)
                return a != b ? a < b : $0 < $1
            }.prefix(budget)
            return Selection(rows: order.map { unlabeled[$0] }, scores: order.map { -abs(scores[$0] - margin) })
        case .core:
            // k-center greedy on the hidden features, from the labelled nodes.
            let h = gcn.hidden
            func dist2(_ a: Int, _ b: Int) -> Double {
                var s = 0.0
                for j in 0..<h { let v = Double(features[a * h + j] - features[b * h + j]); s += v * v }
                return s
            }
            var minDist = (0..<unlabeled.count).map { i in labeled.indices.map { dist2(i, unlabeled.count + $0) }.min()! }
            var picks: [Int] = [], picked: [Double] = []
            for _ in 0..<budget {
                var best = 0
                for i in 1..<minDist.count where minDist[i] > minDist[best] { best = i }
                picks.append(best); picked.append(minDist[best])
                for i in 0..<minDist.count { minDist[i] = min(minDist[i], dist2(i, best)) }
                minDist[best] = -1
            }
            return Selection(rows: picks.map { unlabeled[$0] }, scores: picked)
        }
    }
}

/// The two-layer graph convolutional network of Sequential GCN, with a hand-written backward pass.
struct GCN {
    let n: Int, d: Int, hidden: Int
    var adjacency: [Float]   // [n, n]
    var propagated: [Float]  // A·F, [n, d] (constant: the first layer is A (F W1) = (A F) W1)
    var w1: [Float], b1: [Float], w2: [Float], b2: Float

    init(features f: [Float], nodes n: Int, width d: Int, hidden: Int, rng: inout SeededRandom) {
        self.n = n; self.d = d; self.hidden = hidden
        var a = Products.rows(f, f, width: d)
        for i in 0..<n { a[i * n + i] -= 1 }
        var colSums = [Float](repeating: 0, count: n)
        for i in 0..<n { for j in 0..<n { colSums[j] += a[i * n + j] } }
        for i in 0..<n { for j in 0..<n { a[i * n + j] = colSums[j] != 0 ? a[i * n + j] / colSums[j] : 0 } }
        for i in 0..<n { a[i * n + i] += 1 }
        adjacency = a
        propagated = Products.matmul(a, f, m: n, k: n, n: d)
        // GraphConvolution.reset_parameters: uniform(−1/√out, 1/√out).
        func uniform(_ count: Int, _ bound: Double) -> [Float] { (0..<count).map { _ in Float((rng.uniform() * 2 - 1) * bound) } }
        let s1 = 1 / Double(hidden).squareRoot()
        w1 = uniform(d * hidden, s1); b1 = uniform(hidden, s1)
        w2 = uniform(hidden, 1); b2 = uniform(1, 1)[0]
    }

    /// Forward pass; `mask` (0 or 1/(1−p) per hidden unit) applies dropout. Returns (pre-activation, hidden after dropout, scores).
    func forward(mask: [Float]?) -> (z1: [Float], h: [Float], s: [Float]) {
        var z1 = Products.matmul(propagated, w1, m: n, k: d, n: hidden)
        var h = [Float](repeating: 0, count: n * hidden)
        for i in 0..<n { for j in 0..<hidden {
            z1[i * hidden + j] += b1[j]
            h[i * hidden + j] = max(0, z1[i * hidden + j]) * (mask?[i * hidden + j] ?? 1)
        } }
        var support = [Float](repeating: 0, count: n)
        for i in 0..<n { var s: Float = 0; for j in 0..<hidden { s += h[i * hidden + j] * w2[j] }; support[i] = s }
        let z2 = Products.matmul(adjacency, support, m: n, k: n, n: 1)
        return (z1, h, z2.map { 1 / (1 + exp(-($0 + b2))) })
    }

    /// Loss −mean log s(L) − λ mean log(1 − s(U)) and its gradients (w1, b1, w2, b2).
    func lossAndGradient(isLabeled: [Bool], mask: [Float]?, unlabeledWeight: Double) -> (Double, [Float], [Float], [Float], Float) {
        let (z1, h, s) = forward(mask: mask)
        let nl = Double(isLabeled.filter { $0 }.count), nu = Double(n) - nl
        var loss = 0.0
        var dz2 = [Float](repeating: 0, count: n)
        for i in 0..<n {
            // Saturated scores are clamped (so the log stays finite) and then carry no gradient.
            let raw = Double(s[i]), si = min(max(raw, 1e-7), 1 - 1e-7), live: Double = si == raw ? 1 : 0
            if isLabeled[i] { loss -= log(si) / nl; dz2[i] = Float(-live * (1 - si) / nl) }
            else { loss -= unlabeledWeight * log(1 - si) / nu; dz2[i] = Float(live * unlabeledWeight * si / nu) }
        }
        let db2 = dz2.reduce(0, +)
        // z2 = A·support  =>  dsupport = Aᵀ dz2.
        // (A is not symmetric after the column normalisation.)
        let dsupport = transposedProduct(dz2)
        var dw2 = [Float](repeating: 0, count: hidden)
        var dz1 = [Float](repeating: 0, count: n * hidden)
        for i in 0..<n {
            for j in 0..<hidden {
                dw2[j] += h[i * hidden + j] * dsupport[i]
                let dh = dsupport[i] * w2[j] * (mask?[i * hidden + j] ?? 1)
                dz1[i * hidden + j] = z1[i * hidden + j] > 0 ? dh : 0
            }
        }
        var db1 = [Float](repeating: 0, count: hidden)
        for i in 0..<n { for j in 0..<hidden { db1[j] += dz1[i * hidden + j] } }
        let dw1 = Products.matmul(propagated, dz1, m: d, k: n, n: hidden, transposeX: true)
        return (loss, dw1, db1, dw2, db2)
    }

    func transposedProduct(_ v: [Float]) -> [Float] {
        Products.matmul(adjacency, v, m: n, k: n, n: 1, transposeX: true)
    }

    mutating func train(isLabeled: [Bool], epochs: Int, learningRate: Double, weightDecay: Double, dropout: Double,
                        unlabeledWeight: Double, rng: inout SeededRandom, cancel: CancellationToken?) throws {
        var adam = [Adam(count: w1.count), Adam(count: b1.count), Adam(count: w2.count), Adam(count: 1)]
        let keep = Float(1 / (1 - dropout))
        for _ in 0..<epochs {
            if cancel?.isCancelled == true { throw EngineError(.cancelled, "GCN training cancelled") }
            let mask = (0..<(n * hidden)).map { _ in rng.uniform() < dropout ? Float(0) : keep }
            let (_, dw1, db1, dw2, db2) = lossAndGradient(isLabeled: isLabeled, mask: mask, unlabeledWeight: unlabeledWeight)
            adam[0].step(&w1, dw1, lr: learningRate, weightDecay: weightDecay)
            adam[1].step(&b1, db1, lr: learningRate, weightDecay: weightDecay)
            adam[2].step(&w2, dw2, lr: learningRate, weightDecay: weightDecay)
            var b = [b2]
            adam[3].step(&b, [db2], lr: learningRate, weightDecay: weightDecay)
            b2 = b[0]
        }
    }

    /// Scores and first-layer features in evaluation mode (no dropout).
    func evaluate() -> ([Double], [Float]) {
        let (_, h, s) = forward(mask: nil)
        return (s.map(Double.init), h)
    }
}

