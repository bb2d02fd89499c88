import AlvlmTestSupport
import XCTest
@testable import AlvlmEngine
@testable import AlvlmWorld

/// The pretraining backward pass: every tensor's gradient against central differences of the loss,
/// the training forward against the inference forward, and AdamW against torch's update rule.
final class PretrainingTests: XCTestCase {
    func batch(_ model: CLIPModel, count n: Int, seed: UInt64) -> (pixels: [Float], captions: [[Int]], groups: [Int]) {
        var rng = SeededRandom(seed: seed)
        let s = model.config.imageSize
        let words = ["a red striped texture.", "a blue dotted pattern.", "a red striped texture.", "green chequered cloth.", "marbled stone"]
        let captions = (0..<n).map { model.tokenizer!.encode(words[$0 % words.count]) }
        let groups = (0..<n).map { words.firstIndex(of: words[$0 % words.count])! }
        return (rng.normals(n * 3 * s * s, std: 1), captions, groups)
    }

    func testTrainingForwardEqualsInference() throws {
        let model = try CLIPModel.random("tiny-test", seed: 3)
        let (pixels, captions, _) = batch(model, count: 5, seed: 4)
        let pass = ContrastivePass(config: model.config)
        let trainImages = pass.imageForward(model.vision, pixels: pixels, count: 5)
        let trainTexts = pass.textForward(model.text, ids: captions)
        XCTAssertLessThan(maxAbsDifference(trainImages, model.encodeImages(pixels, count: 5)), 1e-5)
        XCTAssertLessThan(maxAbsDifference(trainTexts, try model.encodeTexts(captions)), 1e-5)
    }

    /// Directional derivative per tensor: (L(θ + εu) − L(θ − εu)) / 2ε against ⟨∇L, u⟩ for a unit u touching only
    /// that tensor, half along the analytic gradient and half random (so a wrong gradient shows in both the size
    /// and the direction). Token embeddings are checked on the rows the batch uses.
    func testEveryTensorGradientMatchesFiniteDifferences() throws {
        for activation in [Activation.quickGELU, .gelu] {
            var config = CLIPConfig.named("tiny-test")!
            config.vision.activation = activation; config.text.activation = activation
            var rng = SeededRandom(seed: 5)
            let random = CLIPParameters.random(config, rng: &rng)
            random.logitScale[0] = log(10)
            let model = CLIPModel(parameters: random, tokenizer: CLIPTokenizer.standard, source: "test")
            let (pixels, captions, groups) = batch(model, count: 6, seed: 6)
            let params = CLIPParameters(model: model)
            let pass = ContrastivePass(config: config)
            let (loss, grad) = pass.lossAndGradient(params, pixels: pixels, captions: captions, groups: groups)
            XCTAssertTrue(loss.isFinite && loss > 0)
            let used = Set(captions.joined())
            var checked = 0
            for (k, tensor) in params.tensors.enumerated() {
                var dir = [Float](repeating: 0, count: tensor.values.count)
                if tensor.name.hasSuffix("token_embedding.weight") {
                    let c = config.text.width
                    for id in used { for i in 0..<c { dir[id * c + i] = Float(rng.normal()) } }
                } else {
                    for i in dir.indices { dir[i] = Float(rng.normal()) }
                }
                func unit(_ v: [Float]) -> [Float] {
                    let norm = v.reduce(0) { $0 + Double($1 * $1) }.squareRoot()
                    return norm > 0 ? v.map { $0 / Float(norm) } : v
                }
                let g = unit(grad.tensors[k].values)
                dir = unit(zip(unit(dir), g).map { $0 + $1 })
                let analytic = zip(grad.tensors[k].values, dir).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let eps: Float = 2e-3
                func lossAt(_ sign: Float) -> Double {
                    let p = params.copy()
                    let moved = p.segments[k].range.lowerBound
                    for i in dir.indices { p.storage.base[moved + i] += sign * eps * dir[i] }
                    return ContrastivePass(config: config).lossAndGradient(p, pixels: pixels, captions: captions, groups: groups).loss
                }
                let numeric = (lossAt(1) - lossAt(-1)) / Double(2 * eps)
                XCTAssertEqual(analytic, numeric, accuracy: 2e-3 + 2e-2 * abs(numeric), "\(activation) \(tensor.name)")
                checked += 1
            }
            XCTAssertEqual(checked, params.tensors.count)
            XCTAssertEqual(checked, 5 + 12 * config.vision.layers + 3 + 2 + 12 * config.text.layers + 4)
        }
    }

    /// Weight-gradient GEMMs split across workers (transposed A, accumulating) equal one single-threaded GEMM,
    /// for worker counts that do and do not divide the rows.
    func testParallelTransposedGemmEqualsSerial() {
        var rng = SeededRandom(seed: 11)
        let m = 384, n = 96, k = 600
        let a = rng.normals(k * m, std: 1), b = rng.normals(k * n, std: 1), c0 = rng.normals(m * n, std: 1)
        var serial = c0
        serial.withUnsafeMutableBufferPointer { c in
            BLAS.gemm(transA: true, m: m, n: n, k: k, a: a, lda: m, b: b, ldb: n, beta: 1, c: c.baseAddress!, ldc: n)
        }
        for cores in [1, 2, 3, 5] {
            var parallel = c0
            parallel.withUnsafeMutableBufferPointer { c in
                BLAS.parallelGemm(transA: true, m: m, n: n, k: k, a: a, lda: m, b: b, ldb: n, beta: 1, c: c.baseAddress!, ldc: n, cores: cores)
            }
            XCTAssertLessThan(maxAbsDifference(parallel, serial), 1e-3, "\(cores) cores")
        }
        let naive = naiveMatmul(transA: true, transB: false, m: m, n: n, k: k, a: a, lda: m, b: b, ldb: n)
        XCTAssertLessThan(maxAbsDifference(zip(naive, c0).map { $0 + $1 }, serial), 1e-2)
    }

    /// The contrastive loss's own gradient (image and text embeddings, logit scale), in double-precision differences.
    func testContrastiveLossGradient() {
        var rng = SeededRandom(seed: 8)
        let n = 5, e = 4
        let image = rng.normals(n * e, std: 1), text = rng.normals(n * e, std: 1), groups = [0, 1, 0, 2, 3]
        let r = ContrastiveLoss.evaluate(image: image, text: text, groups: groups, width: e, logScale: 1.5)
        let h: Float = 1e-3
        for i in 0..<(n * e) {
            var a = image, b = image
            a[i] += h; b[i] -= h
            let fd = (ContrastiveLoss.evaluate(image: a, text: text, groups: groups, width: e, logScale: 1.5).loss
                      - ContrastiveLoss.evaluate(image: b, text: text, groups: groups, width: e, logScale: 1.5).loss) / Double(2 * h)
            XCTAssertEqual(Double(r.dImage[i]), fd, accuracy: 2e-3)
            var c = text, d = text
            c[i] += h; d[i] -= h
            let fdt = (ContrastiveLoss.evaluate(image: image, text: c, groups: groups, width: e, logScale: 1.5).loss
                       - ContrastiveLoss.evaluate(image: image, text: d, groups: groups, width: e, logScale: 1.5).loss) / Double(2 * h)
            XCTAssertEqual(Double(r.dText[i]), fdt, accuracy: 2e-3)
        }
        let fds = (ContrastiveLoss.evaluate(image: image, text: text, groups: groups, width: e, logScale: 1.5 + h).loss
                   - ContrastiveLoss.evaluate(image: image, text: text, groups: groups, width: e, logScale: 1.5 - h).loss) / Double(2 * h)
        XCTAssertEqual(Double(r.dLogScale), fds, accuracy: 2e-3)
    }

    /// Two AdamW steps against torch.optim.AdamW's formulas written out in double precision.
    func testAdamWFollowsTorch() throws {
        let model = try CLIPModel.random("tiny-test", seed: 9)
        let params = CLIPParameters(model: model)
        var rng = SeededRandom(seed: 10)
        let grad = params.zeros()
        grad.setFlattened(rng.normals(params.count, std: 1))
        var opt = AdamW(beta1: 0.9, beta2: 0.98, epsilon: 1e-6, weightDecay: 0.1)
        let start = params.tensors
        opt.update(params, gradients: grad, learningRate: 1e-2)
        opt.update(params, gradients: grad, learningRate: 5e-3)
        for (k, t) in params.tensors.enumerated() where k % 7 == 0 {
            let g = grad.tensors[k].values
            for i in stride(from: 0, to: t.values.count, by: 97) {
                var theta = Double(start[k].values[i]), m = 0.0, v = 0.0
                for (step, lr) in [(1, 1e-2), (2, 5e-3)] {
                    if t.decays { theta *= 1 - lr * 0.1 }
                    m = 0.9 * m + 0.1 * Double(g[i]); v = 0.98 * v + 0.02 * Double(g[i]) * Double(g[i])
                    let mhat = m / (1 - pow(0.9, Double(step))), vhat = v / (1 - pow(0.98, Double(step)))
                    theta -= lr * mhat / (vhat.squareRoot() + 1e-6)
                }
                XCTAssertEqual(Double(t.values[i]), theta, accuracy: 1e-5, t.name)
            }
        }
    }
}
