import Foundation

/// The optimisers, in one place, each with the semantics of the reference its trainer is checked against.
///   SGD: torch.optim.SGD with momentum (CoOp, as Dassl trains it).
///   Adam: torch.optim.Adam, weight decay added to the gradient (the GCN strategies).
///   AdamW: torch.optim.AdamW, decoupled decay (pretraining the tiny CLIP).
///   LBFGS: limited-memory BFGS with a backtracking line search (the linear probe).

/// torch.optim.SGD with momentum: g += wd·θ; v = g on the first step, else μ·v + g; θ -= lr·v. In place: a step
/// allocates nothing after the first.
public struct SGD {
    public var momentum: Float
    public var weightDecay: Float
    public private(set) var velocity: [Float]?

    public init(momentum: Float, weightDecay: Float) { self.momentum = momentum; self.weightDecay = weightDecay }

    public mutating func step(_ theta: inout [Float], gradient: [Float], learningRate lr: Float) {
        precondition(theta.count == gradient.count, "parameters and gradient differ in size")
        precondition(velocity == nil || velocity!.count == theta.count, "parameters changed size between steps")
        let first = velocity == nil
        if first { velocity = [Float](repeating: 0, count: theta.count) }
        let mu = first ? 0 : momentum, wd = weightDecay
        theta.withUnsafeMutableBufferPointer { t in
            velocity!.withUnsafeMutableBufferPointer { v in
                for i in 0..<t.count {
                    v[i] = mu * v[i] + (gradient[i] + wd * t[i])
                    t[i] -= lr * v[i]
                }
            }
        }
    }
}

/// torch.optim.Adam (β 0.9, 0.999, ε 1e-8; weight decay added to the gradient), moments in double precision.
public struct Adam {
    var m: [Double], v: [Double], t = 0
    public init(count: Int) { m = .init(repeating: 0, count: count); v = m }

    public mutating func step(_ p: inout [Float], _ g: [Float], lr: Double, weightDecay: Double) {
        t += 1
        let c1 = 1 - pow(0.9, Double(t)), c2 = 1 - pow(0.999, Double(t))
        for i in 0..<p.count {
            let gi = Double(g[i]) + weightDecay * Double(p[i])
            m[i] = 0.9 * m[i] + 0.1 * gi
            v[i] = 0.999 * v[i] + 0.001 * gi * gi
            p[i] -= Float(lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + 1e-8))
        }
    }
}

/// AdamW (Loshchilov & Hutter) with torch.optim.AdamW semantics: decoupled decay θ -= lr·λ·θ before the Adam step,
/// bias-corrected moments, ε added to the corrected root. Parameters, gradients and the two moments are each one flat
/// storage; `segments` say which ranges (tensors) are decayed.
public struct AdamW {
    public var beta1: Double = 0.9
    public var beta2: Double = 0.98
    public var epsilon: Double = 1e-6
    public var weightDecay: Double = 0.1
    public private(set) var step = 0
    private var m: FloatStorage?, v: FloatStorage?

    public init(beta1: Double = 0.9, beta2: Double = 0.98, epsilon: Double = 1e-6, weightDecay: Double = 0.1) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    /// One step on `theta` in place (the moments are allocated on the first step only).
    public mutating func step(_ theta: FloatStorage, gradient: FloatStorage, segments: [(range: Range<Int>, decays: Bool)], learningRate lr: Double) {
        precondition(theta.count == gradient.count, "parameters and gradient differ in size")
        precondition(segments.allSatisfy { $0.range.lowerBound >= 0 && $0.range.upperBound <= theta.count }, "a segment past the parameters")
        if m == nil { m = FloatStorage(count: theta.count); v = FloatStorage(count: theta.count) }
        precondition(m!.count == theta.count, "parameters changed size between steps")
        step += 1
        let b1 = Float(beta1), b2 = Float(beta2), eps = Float(epsilon), rate = Float(lr)
        let c1 = Float(1 - pow(beta1, Double(step))), c2 = Float(1 - pow(beta2, Double(step)))
        let p = theta.base, g = gradient.base, mk = m!.base, vk = v!.base
        for (range, decays) in segments {
            let decay = decays ? Float(1 - lr * weightDecay) : 1
            parallelChunks(range.count, minimumPerChunk: 1 << 16) { part in
                for i in (range.lowerBound + part.lowerBound)..<(range.lowerBound + part.upperBound) {
                    mk[i] = b1 * mk[i] + (1 - b1) * g[i]
                    vk[i] = b2 * vk[i] + (1 - b2) * g[i] * g[i]
                    let mhat = mk[i] / c1, vhat = vk[i] / c2
                    p[i] = p[i] * decay - rate * mhat / (vhat.squareRoot() + eps)
                }
            }
        }
    }
}

/// Limited-memory BFGS (Nocedal & Wright, Algorithm 7.4) with a backtracking Armijo line search.
public enum LBFGS {
    public static func minimize(_ x0: [Double], memory: Int = 10, maxIterations: Int = 300, tolerance: Double = 1e-7,
                         _ f: ([Double]) -> (Double, [Double])) -> [Double] {
        var x = x0
        var (fx, g) = f(x)
        var s: [[Double]] = [], y: [[Double]] = [], rho: [Double] = []
        func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        for _ in 0..<maxIterations {
            if dot(g, g).squareRoot() < tolerance { break }
            // Two-loop recursion for the search direction -H g.
            var q = g
            var alpha = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * dot(s[i], q)
                for j in 0..<q.count { q[j] -= alpha[i] * y[i][j] }
            }
            if let ls = s.last, let ly = y.last {
                let gamma = dot(ls, ly) / dot(ly, ly)
                for j in 0..<q.count { q[j] *= gamma }
            }
            for i in 0..<s.count {
                let beta = rho[i] * dot(y[i], q)
                for j in 0..<q.count { q[j] += s[i][j] * (alpha[i] - beta) }
            }
            var direction = q.map { -$0 }
            var slope = dot(g, direction)
            if slope >= 0 { direction = g.map { -$0 }; slope = -dot(g, g); s = []; y = []; rho = [] }
            var step = 1.0
            var accepted: (x: [Double], f: Double, g: [Double])?
            for _ in 0..<40 {
                let candidate = zip(x, direction).map { $0 + step * $1 }
                let (fc, gc) = f(candidate)
                if fc <= fx + 1e-4 * step * slope { accepted = (candidate, fc, gc); break }
                step *= 0.5
            }
            guard let (nx, nf, ng) = accepted else { break }
            let sk = zip(nx, x).map { $0 - $1 }, yk = zip(ng, g).map { $0 - $1 }
            let sy = dot(sk, yk)
            if sy > 1e-12 {
                s.append(sk); y.append(yk); rho.append(1 / sy)
                if s.count > memory { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
            }
            let improvement = fx - nf
            x = nx; fx = nf; g = ng
            if improvement < 1e-12 * max(1, abs(fx)) { break }
        }
        return x
    }
}
