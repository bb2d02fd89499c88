import AlvlmTestSupport
import XCTest
@testable import AlvlmEngine

/// The towers' prompt inputs, which VPT and MaPLe train: tokens appended to the image sequence before ln_pre and
/// tokens replacing positions at chosen layers (deep prompts), checked against central finite differences of the
/// towers' own forward passes on the tiny CLIP.
final class TowerTests: XCTestCase {
    static let model = try! CLIPModel.load(directory: Fixtures.path("tiny-clip"))

    /// max |analytic - numeric| over the checked coordinates, relative to the largest numeric value.
    func relativeError(_ analytic: [Float], _ numeric: [Int: Double]) -> Double {
        let scale = max(numeric.values.map(abs).max() ?? 0, 1e-12)
        return numeric.map { abs(Double(analytic[$0.key]) - $0.value) }.max()! / scale
    }

    /// Central differences of `loss` at a few coordinates of `x` (h relative to the values' scale).
    func numeric(_ x: [Float], coordinates: [Int], h: Float, loss: ([Float]) -> Double) -> [Int: Double] {
        var out: [Int: Double] = [:]
        for i in coordinates {
            var plus = x, minus = x
            plus[i] += h; minus[i] -= h
            out[i] = (loss(plus) - loss(minus)) / Double(2 * h)
        }
        return out
    }

    func testVisionPromptGradientsMatchFiniteDifferences() {
        let m = Self.model, c = m.config.vision.width, e = m.config.embedDim, s = m.config.imageSize
        let g = m.config.grid, layers = m.config.vision.layers
        var rng = SeededRandom(seed: 11)
        let pixels = rng.normals(2 * 3 * s * s, std: 1)
        let weights = rng.normals(2 * e, std: 1)
        let appended = rng.normals(2 * c, std: 0.5), deep = rng.normals(2 * c, std: 0.5)
        let positions = [1 + g * g, 2 + g * g]
        func loss(_ appended: [Float], _ deep: [Float], tower: VisionTower, record: TowerRecord, prompts: DeepPrompts? = nil) -> (Double, [Float]) {
            let p = prompts ?? DeepPrompts(positions: positions, values: [layers - 1: deep])
            let f = pixels.withUnsafeBufferPointer { tower.forward(pixels: $0.baseAddress!, count: 2, weights: m.vision, record: record, appended: appended, prompts: p) }
            return (zip(f, weights).map { Double($0) * Double($1) }.reduce(0, +), f)
        }
        let tower = VisionTower(config: m.config)
        let prompts = DeepPrompts(positions: positions, values: [layers - 1: deep])
        _ = loss(appended, deep, tower: tower, record: .inputGradients, prompts: prompts)
        let dAppended = tower.backward(weights, weights: m.vision, prompts: prompts)!
        let dDeep = prompts.gradients[layers - 1]!
        let probe = VisionTower(config: m.config)
        let coordinates = (0..<12).map { _ in Int(rng.next() % UInt64(2 * c)) }
        XCTAssertLessThan(relativeError(dAppended, numeric(appended, coordinates: coordinates, h: 1e-2) { loss($0, deep, tower: probe, record: .none).0 }), 2e-2)
        XCTAssertLessThan(relativeError(dDeep, numeric(deep, coordinates: coordinates, h: 1e-2) { loss(appended, $0, tower: probe, record: .none).0 }), 2e-2)
    }

    func testTextDeepPromptGradientsMatchFiniteDifferences() {
        let m = Self.model, c = m.config.text.width, e = m.config.embedDim
        var rng = SeededRandom(seed: 12)
        let ids = ["a photo of a banded texture.", "a woven one."].map { m.tokenizer!.encode($0) }
        let pools = ids.map(CLIPModel.poolIndex), t = pools.max()! + 1
        let weights = rng.normals(2 * e, std: 1)
        let deep1 = rng.normals(2 * c, std: 0.5), deep2 = rng.normals(2 * c, std: 0.5)
        let input = TextTower.embed(ids, tokens: t, weights: m.text, width: c)
        func loss(_ d1: [Float], _ d2: [Float], tower: TextTower, record: TowerRecord, prompts: DeepPrompts? = nil) -> Double {
            let p = prompts ?? DeepPrompts(positions: [1, 2], values: [0: d1, 1: d2])
            let f = tower.forward(input, layout: .sequences(batch: 2, tokens: t), pooled: pools.enumerated().map { $0 * t + $1 },
                                  weights: m.text, record: record, prompts: p)
            return zip(f, weights).map { Double($0) * Double($1) }.reduce(0, +)
        }
        let tower = TextTower(shape: m.config.text)
        let prompts = DeepPrompts(positions: [1, 2], values: [0: deep1, 1: deep2])
        _ = loss(deep1, deep2, tower: tower, record: .inputGradients, prompts: prompts)
        let dx = tower.backward(weights, weights: m.text, prompts: prompts)
        let probe = TextTower(shape: m.config.text)
        let coordinates = (0..<12).map { _ in Int(rng.next() % UInt64(2 * c)) }
        XCTAssertLessThan(relativeError(prompts.gradients[0]!, numeric(deep1, coordinates: coordinates, h: 1e-2) { loss($0, deep2, tower: probe, record: .none) }), 2e-2)
        XCTAssertLessThan(relativeError(prompts.gradients[1]!, numeric(deep2, coordinates: coordinates, h: 1e-2) { loss(deep1, $0, tower: probe, record: .none) }), 2e-2)
        // The replaced positions' input rows get no gradient: layer 0 overwrote them (tokens at layers 0 and 1: any tower has both).
        for b in 0..<2 { for p in [1, 2] { XCTAssertEqual(dx[((b * t + p) * c)..<((b * t + p + 1) * c)].map(abs).max(), 0) } }
        XCTAssertGreaterThan(dx[(3 * c)..<(4 * c)].map(abs).max()!, 0, "the other positions still get theirs")
    }
}

/// The image tower in bfloat16 (where the machine has AMX or AVX512-BF16): embeddings at cosine ≥ 0.999 to float32's
/// on random-weight models of a real architecture and the test one, and a different feature-cache key.
final class BFloat16EncodingTests: XCTestCase {
    func testBFloat16EmbeddingsStayWithinCosine0999OfFloat32() throws {
        guard BFloat16.support > .none else { throw XCTSkip("this CPU has neither AMX nor AVX512-BF16: the bfloat16 path falls back to float32") }
        for name in ["tiny-test", "vit-b-32"] {
            let model = try CLIPModel.random(name)
            let s = model.config.imageSize, n = 3, e = model.config.embedDim
            var rng = SeededRandom(seed: 7)
            let pixels = rng.normals(n * 3 * s * s, std: 1)
            let full = model.encodeImages(pixels, count: n, batch: 2)
            model.imagePrecision = .bfloat16
            XCTAssertEqual(model.effectiveImagePrecision, .bfloat16)
            let low = model.encodeImages(pixels, count: n, batch: 2)
            for i in 0..<n {
                let similarity = cosine(low[(i * e)..<((i + 1) * e)], full[(i * e)..<((i + 1) * e)])
                XCTAssertGreaterThanOrEqual(similarity, 0.999, "\(name) image \(i)")
                XCTAssertLessThan(similarity, 1 - 1e-12, "\(name) image \(i): bfloat16 was used")
            }
        }
    }

    func testWithoutSupportBFloat16FallsBackToFloat32() throws {
        defer { BFloat16.limit(to: BFloat16.detected) }
        let model = try CLIPModel.random("tiny-test")
        var rng = SeededRandom(seed: 8)
        let pixels = rng.normals(2 * 3 * model.config.imageSize * model.config.imageSize, std: 1)
        let full = model.encodeImages(pixels, count: 2)
        BFloat16.limit(to: .none)
        model.imagePrecision = .bfloat16
        XCTAssertEqual(model.effectiveImagePrecision, .float32)
        XCTAssertEqual(model.encodeImages(pixels, count: 2), full)
    }
}
