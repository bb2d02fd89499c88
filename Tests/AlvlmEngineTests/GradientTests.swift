import AlvlmTestSupport
import XCTest
@testable import AlvlmEngine

/// Finite-difference checks of every backward kernel and of the whole CoOp loss w.r.t. the context,
/// against double-precision reference forwards.
final class GradientTests: XCTestCase {
    /// Central differences of f at x along each coordinate.
    func numericalGradient(_ x: [Double], h: Double = 1e-5, _ f: ([Double]) -> Double) -> [Double] {
        (0..<x.count).map { i in
            var a = x, b = x
            a[i] += h; b[i] -= h
            return (f(a) - f(b)) / (2 * h)
        }
    }

    func assertClose(_ analytic: [Float], _ numeric: [Double], relative: Double, file: StaticString = #filePath, line: UInt = #line) {
        let scale = max(numeric.map(abs).max() ?? 0, 1e-12)
        let worst = zip(analytic, numeric).map { abs(Double($0) - $1) }.max() ?? 0
        XCTAssertLessThan(worst / scale, relative, "max error \(worst) at scale \(scale)", file: file, line: line)
    }

    func testLayerNormBackward() {
        var rng = SeededRandom(seed: 1)
        let rows = 3, c = 10
        let x = rng.normals(rows * c, std: 2), w = rng.normals(c, std: 1), b = rng.normals(c, std: 1), dy = rng.normals(rows * c, std: 1)
        var y = [Float](repeating: 0, count: rows * c), mean = [Float](repeating: 0, count: rows), rstd = mean
        Kernels.layerNorm(x, &y, rows: rows, width: c, weight: w, bias: b, eps: 1e-5, mean: &mean, rstd: &rstd)
        var dx = [Float](repeating: 0, count: rows * c)
        Kernels.layerNormBackward(dy, x, mean: mean, rstd: rstd, weight: w, into: &dx, rows: rows, width: c)
        let numeric = numericalGradient(x.map(Double.init)) { xd in
            let out = ReferenceKernels.layerNormDouble(xd, rows: rows, width: c, weight: w.map(Double.init), bias: b.map(Double.init), eps: 1e-5)
            return zip(out, dy).map { $0 * Double($1) }.reduce(0, +)
        }
        assertClose(dx, numeric, relative: 1e-3)
    }

    func testActivationBackward() {
        var rng = SeededRandom(seed: 2)
        let x = rng.normals(43, std: 2) // 5 vector blocks of 8 and a scalar tail
        for kind in [Activation.quickGELU, .gelu] {
            var dy = [Float](repeating: 1, count: x.count)
            Kernels.activateBackward(&dy, preactivation: x, count: x.count, kind)
            let numeric = x.map { v in (ReferenceKernels.activation(Double(v) + 1e-6, kind) - ReferenceKernels.activation(Double(v) - 1e-6, kind)) / 2e-6 }
            assertClose(dy, numeric, relative: 1e-4)
        }
    }

    func testAttentionBackward() {
        var rng = SeededRandom(seed: 3)
        let batch = 2, t = 5, c = 8, heads = 2
        let qkv = rng.normals(batch * t * 3 * c, std: 1), dout = rng.normals(batch * t * c, std: 1)
        for causal in [true, false] {
            var out = [Float](repeating: 0, count: batch * t * c)
            var probs = [Float](repeating: 0, count: batch * heads * t * t)
            var scratch = [Float](repeating: 0, count: Engine.cores * t * t)
            out.withUnsafeMutableBufferPointer { o in
                Kernels.attention(qkv: qkv, out: o.baseAddress!, batch: batch, tokens: t, width: c, heads: heads, causal: causal,
                                  scratch: &scratch, probs: &probs)
            }
            var dqkv = [Float](repeating: 0, count: qkv.count)
            Kernels.attentionBackward(dout: dout, qkv: qkv, probs: probs, dqkv: &dqkv, batch: batch, tokens: t, width: c,
                                      heads: heads, scratch: &scratch)
            let numeric = numericalGradient(qkv.map(Double.init)) { q in
                let o = ReferenceKernels.attentionDouble(q, batch: batch, tokens: t, width: c, heads: heads, causal: causal)
                return zip(o, dout).map { $0 * Double($1) }.reduce(0, +)
            }
            assertClose(dqkv, numeric, relative: 1e-3)
        }
    }

    /// The one softmax cross-entropy (labels and soft targets) and the one L2 normalisation against finite differences
    /// and a value worked out by hand.
    func testSoftmaxCrossEntropyAndL2NormalisationGradients() {
        var rng = SeededRandom(seed: 13)
        let n = 3, c = 4
        let logits = rng.normals(n * c, std: 2).map(Double.init)
        let soft: (Int) -> [(Int, Double)] = { r in [(r, 0.75), ((r + 1) % c, 0.25)] }
        for targets in [{ (r: Int) in [((r * 2) % c, 1.0)] }, soft] {
            let (_, g) = SoftmaxCrossEntropy.evaluate(logits, rows: n, classes: c, targets: targets)
            let numeric = numericalGradient(logits, h: 1e-6) { SoftmaxCrossEntropy.evaluate($0, rows: n, classes: c, targets: targets).loss }
            assertClose(g.map(Float.init), numeric, relative: 1e-6)
        }
        // Two equal logits and a label: loss ln 2, gradient (1/2 − 1, 1/2).
        let half = SoftmaxCrossEntropy.evaluate([Float(3), 3], rows: 1, classes: 2, labels: [0])
        XCTAssertEqual(half.loss, log(2), accuracy: 1e-12)
        XCTAssertEqual(half.gradient, [-0.5, 0.5])

        let x = rng.normals(2 * 5, std: 1), dunit = rng.normals(2 * 5, std: 1)
        let (unit, norms) = L2Normalization.forward(x, width: 5)
        let dx = L2Normalization.backward(dunit, unit: unit, norms: norms, width: 5)
        let numeric = numericalGradient(x.map(Double.init)) { v in
            (0..<2).map { r -> Double in
                let row = v[(r * 5)..<((r + 1) * 5)], norm = sqrt(row.map { $0 * $0 }.reduce(0, +))
                return zip(row, dunit[(r * 5)..<((r + 1) * 5)]).map { $0 / norm * Double($1) }.reduce(0, +)
            }.reduce(0, +)
        }
        assertClose(dx, numeric, relative: 1e-3)
        XCTAssertEqual(L2Normalization.forward([0, 0, 3, 4], width: 2).unit, [0, 0, 0.6, 0.8])
    }

    /// Attention over sequences sharing a prefix equals ordinary causal attention over the full sequences: outputs
    /// row by row, and input gradients (the prefix's summed over the sequences that share it).
    func testPrefixAttentionEqualsFullCausalAttention() {
        var rng = SeededRandom(seed: 9)
        for (p, batch, s, c, heads) in [(3, 4, 2, 8, 2), (1, 3, 4, 12, 3), (5, 2, 1, 8, 4)] {
            let t = p + s, rows = p + batch * s
            let prefix = rng.normals(p * 3 * c, std: 1), suffixes = rng.normals(batch * s * 3 * c, std: 1)
            let dout = rng.normals(rows * c, std: 1)
            var scratch = [Float](repeating: 0, count: Engine.cores * max(t * t, p * p + s * t))
            // Shared layout.
            let qkv = prefix + suffixes
            var out = [Float](repeating: 0, count: rows * c)
            var probs = [Float](repeating: 0, count: heads * (p * p + batch * s * t))
            Kernels.prefixAttention(qkv: qkv, out: &out, prefix: p, batch: batch, suffix: s, width: c, heads: heads, scratch: &scratch, probs: &probs)
            var dqkv = [Float](repeating: .nan, count: qkv.count)
            Kernels.prefixAttentionBackward(dout: dout, qkv: qkv, probs: probs, dqkv: &dqkv, prefix: p, batch: batch, suffix: s,
                                            width: c, heads: heads, scratch: &scratch)
            // Full layout: every sequence [prefix; suffix b], the prefix's output gradient given to the first only.
            var full: [Float] = [], fullDout: [Float] = []
            for b in 0..<batch {
                full += prefix + suffixes[(b * s * 3 * c)..<((b + 1) * s * 3 * c)]
                fullDout += (b == 0 ? Array(dout[0..<(p * c)]) : [Float](repeating: 0, count: p * c)) + dout[((p + b * s) * c)..<((p + (b + 1) * s) * c)]
            }
            var fullOut = [Float](repeating: 0, count: batch * t * c)
            var fullProbs = [Float](repeating: 0, count: batch * heads * t * t)
            Kernels.attention(qkv: full, out: &fullOut, batch: batch, tokens: t, width: c, heads: heads, causal: true, scratch: &scratch, probs: &fullProbs)
            var fullD = [Float](repeating: 0, count: full.count)
            Kernels.attentionBackward(dout: fullDout, qkv: full, probs: fullProbs, dqkv: &fullD, batch: batch, tokens: t, width: c, heads: heads, scratch: &scratch)
            for b in 0..<batch {
                assertClose(Array(out[0..<(p * c)]), Array(fullOut[(b * t * c)..<((b * t + p) * c)]).map(Double.init), relative: 1e-5)
                assertClose(Array(out[((p + b * s) * c)..<((p + (b + 1) * s) * c)]), Array(fullOut[((b * t + p) * c)..<((b + 1) * t * c)]).map(Double.init), relative: 1e-5)
                assertClose(Array(dqkv[((p + b * s) * 3 * c)..<((p + (b + 1) * s) * 3 * c)]), Array(fullD[((b * t + p) * 3 * c)..<((b + 1) * t * 3 * c)]).map(Double.init), relative: 1e-4)
            }
            let prefixSum = (0..<(p * 3 * c)).map { i in (0..<batch).map { Double(fullD[$0 * t * 3 * c + i]) }.reduce(0, +) }
            assertClose(Array(dqkv[0..<(p * 3 * c)]), prefixSum, relative: 1e-4)
        }
    }

    /// The CoOp learner computes the shared prefix of its prompts once; loss and gradient equal those of running
    /// every prompt in full (shared context at the end, in the middle, and class-specific, which shares only SOT).
    func testSharedPrefixPromptsEqualFullPrompts() throws {
        let model = try CLIPModel.load(directory: Fixtures.path("tiny-clip"))
        let names = ["banded", "honeycombed", "polka_dotted", "woven"]
        var rng = SeededRandom(seed: 6)
        let images = rng.normals(6 * model.config.embedDim, std: 1)
        let labels = [0, 3, 1, 2, 0, 3]
        for (options, prefix) in [(PromptOptions(), 5), (PromptOptions(contextLength: 4, contextInit: nil, classPosition: .middle, seed: 2), 3),
                                  (PromptOptions(contextLength: 2, contextInit: nil, classSpecific: true, seed: 3), 1)] {
            let learner = try PromptLearner(model: model, classNames: names, options: options)
            XCTAssertEqual(learner.sharedPrefix, prefix)
            for i in 0..<learner.context.count { learner.context[i] += Float(rng.normal() * 0.05) }
            let shared = learner.lossAndGradient(imageFeatures: images, labels: labels)
            learner.sharesPrefix = false
            let full = learner.lossAndGradient(imageFeatures: images, labels: labels)
            XCTAssertEqual(shared.loss, full.loss, accuracy: 1e-5 * abs(full.loss))
            assertClose(shared.gradient, full.gradient.map(Double.init), relative: 1e-4)
        }
    }

    /// The whole chain — CE, L2 norm, projection, ln_final, every block, embeddings — against a
    /// double-precision reference forward of the CoOp loss, for each class position and CSC.
    func testCoOpLossGradientMatchesFiniteDifferences() throws {
        let model = try CLIPModel.load(directory: Fixtures.path("tiny-clip"))
        let names = ["banded", "honeycombed", "polka_dotted"]
        var rng = SeededRandom(seed: 4)
        let images = rng.normals(5 * model.config.embedDim, std: 1)
        let labels = [0, 2, 1, 1, 0]
        let variants: [PromptOptions] = [
            PromptOptions(),
            PromptOptions(contextLength: 2, contextInit: nil, classPosition: .middle, seed: 3),
            PromptOptions(contextLength: 3, contextInit: nil, classPosition: .front, classSpecific: true, seed: 5),
        ]
        for options in variants {
            let learner = try PromptLearner(model: model, classNames: names, options: options)
            // Move the context off its initial value so that every term matters.
            for i in 0..<learner.context.count { learner.context[i] += Float(rng.normal() * 0.05) }
            let (loss, grad) = learner.lossAndGradient(imageFeatures: images, labels: labels)
            let reference = ReferenceCoOp(learner: learner)
            XCTAssertEqual(loss, reference.loss(context: learner.context.map(Double.init), images: images, labels: labels), accuracy: 1e-4)
            let numeric = numericalGradient(learner.context.map(Double.init), h: 1e-4) {
                reference.loss(context: $0, images: images, labels: labels)
            }
            assertClose(grad, numeric, relative: 2e-3)
        }
    }
}

/// The CoOp loss computed naively in double precision from the learner's prompts and the model's weights.
struct ReferenceCoOp {
    let learner: PromptLearner

    func loss(context: [Double], images: [Float], labels: [Int]) -> Double {
        let m = learner.model, c = m.config.text.width, e = m.config.embedDim, t = learner.tokens, n = learner.options.contextLength
        let s = m.config.text
        var text: [[Double]] = []
        for (k, seq) in learner.slots.enumerated() {
            var x = [Double](repeating: 0, count: t * c)
            for p in 0..<t {
                let slot = p < seq.count ? seq[p] : 0
                for i in 0..<c {
                    let base = slot >= 0 ? Double(m.text.tokens[slot * c + i])
                        : context[((learner.options.classSpecific ? k * n : 0) + (-1 - slot)) * c + i]
                    x[p * c + i] = base + Double(m.text.positions[p * c + i])
                }
            }
            for w in m.text.blocks {
                let d = { (a: Tensor) in a.values.map(Double.init) }
                let ln1 = ReferenceKernels.layerNormDouble(x, rows: t, width: c, weight: d(w.ln1w), bias: d(w.ln1b), eps: Double(s.eps))
                let qkv = ReferenceKernels.linearDouble(ln1, rows: t, inFeatures: c, weight: d(w.qkvw), bias: d(w.qkvb), outFeatures: 3 * c)
                let att = ReferenceKernels.attentionDouble(qkv, batch: 1, tokens: t, width: c, heads: s.heads, causal: true)
                let proj = ReferenceKernels.linearDouble(att, rows: t, inFeatures: c, weight: d(w.projw), bias: d(w.projb), outFeatures: c)
                for i in 0..<x.count { x[i] += proj[i] }
                let ln2 = ReferenceKernels.layerNormDouble(x, rows: t, width: c, weight: d(w.ln2w), bias: d(w.ln2b), eps: Double(s.eps))
                let h = ReferenceKernels.linearDouble(ln2, rows: t, inFeatures: c, weight: d(w.fc1w), bias: d(w.fc1b), outFeatures: s.mlp)
                    .map { ReferenceKernels.activation($0, s.activation) }
                let out = ReferenceKernels.linearDouble(h, rows: t, inFeatures: s.mlp, weight: d(w.fc2w), bias: d(w.fc2b), outFeatures: c)
                for i in 0..<x.count { x[i] += out[i] }
            }
            let pooled = Array(x[(learner.pool[k] * c)..<((learner.pool[k] + 1) * c)])
            let normed = ReferenceKernels.layerNormDouble(pooled, rows: 1, width: c, weight: m.text.finalW.values.map(Double.init),
                                                          bias: m.text.finalB.values.map(Double.init), eps: Double(s.eps))
            let f = ReferenceKernels.linearDouble(normed, rows: 1, inFeatures: c, weight: m.text.projection.values.map(Double.init), bias: nil, outFeatures: e)
            let norm = f.map { $0 * $0 }.reduce(0, +).squareRoot()
            text.append(f.map { $0 / norm })
        }
        let scale = exp(Double(m.logitScale))
        var total = 0.0
        for (r, label) in labels.enumerated() {
            let img = images[(r * e)..<((r + 1) * e)].map(Double.init)
            let norm = img.map { $0 * $0 }.reduce(0, +).squareRoot()
            let logits = text.map { tk in scale * zip(tk, img).map { $0 * $1 }.reduce(0, +) / norm }
            let mx = logits.max()!
            total += log(logits.map { exp($0 - mx) }.reduce(0, +)) + mx - logits[label]
        }
        return total / Double(labels.count)
    }
}
