import AlvlmTestSupport
import XCTest
@testable import AlvlmEngine

/// Random-weight models of the real architecture, encoded by the reference implementations
/// (transformers for the Hugging Face folders, open_clip for the open_clip folder).
final class ModelParityTests: XCTestCase {
    static let folders = ["tiny-clip", "tiny-clip-f16-gelu", "tiny-openclip"]

    func referencePixels() throws -> (pixels: [Float], count: Int) {
        let u8 = try NPY.read(Fixtures.path("images/pixels_u8.npy"))
        let count = u8.shape[0], size = 224 * 224 * 3
        let pre = Preprocessor()
        let bytes = u8.bytes()
        var pixels: [Float] = []
        for i in 0..<count { pixels += pre.normalize(Array(bytes[(i * size)..<((i + 1) * size)])) }
        return (pixels, count)
    }

    func testImageFeaturesMatchReference() throws {
        let (pixels, count) = try referencePixels()
        for folder in Self.folders {
            let model = try CLIPModel.load(directory: Fixtures.path(folder))
            let expected = try NPY.read(Fixtures.path(folder + "/image_features.npy")).floats()
            let d = model.config.embedDim
            let got = model.encodeImages(pixels, count: count, batch: 4)
            for i in 0..<count {
                let c = cosine(got[(i * d)..<((i + 1) * d)], expected[(i * d)..<((i + 1) * d)])
                XCTAssertGreaterThanOrEqual(c, 0.9999, "\(folder) image \(i)")
            }
            XCTAssertLessThan(maxAbsDifference(got, expected), 1e-3, folder)
        }
    }

    func testTextFeaturesMatchReference() throws {
        for folder in Self.folders {
            let model = try CLIPModel.load(directory: Fixtures.path(folder))
            let texts = try XCTUnwrap(try Fixtures.json(folder + "/texts.json") as? [String])
            let referenceIds = try XCTUnwrap(try Fixtures.json(folder + "/text_ids.json") as? [[NSNumber]]).map { $0.map(\.intValue) }
            let tokenizer = try XCTUnwrap(model.tokenizer)
            XCTAssertEqual(texts.map(tokenizer.encode), referenceIds, folder)
            let expected = try NPY.read(Fixtures.path(folder + "/text_features.npy")).floats()
            let got = try model.encodeTexts(referenceIds)
            let d = model.config.embedDim
            for i in 0..<texts.count {
                let c = cosine(got[(i * d)..<((i + 1) * d)], expected[(i * d)..<((i + 1) * d)])
                XCTAssertGreaterThanOrEqual(c, 0.99999, "\(folder) text \(texts[i].debugDescription)")
            }
        }
    }

    /// Truncating a batch at its last EOT, padding, and batch composition leave features unchanged.
    func testTextTruncationAndBatchingAreExact() throws {
        let model = try CLIPModel.load(directory: Fixtures.path("tiny-clip"))
        let t = try XCTUnwrap(model.tokenizer)
        let ids = ["a photo of a dog.", "hi", "a much longer sentence about a striped honeycombed texture"].map(t.encode)
        let together = try model.encodeTexts(ids)
        let padded = try model.encodeTexts(ids.map { $0 + [Int](repeating: 0, count: 77 - $0.count) })
        var alone: [Float] = []
        for s in ids { alone += try model.encodeTexts([s]) }
        XCTAssertLessThan(maxAbsDifference(together, alone), 1e-5)
        XCTAssertLessThan(maxAbsDifference(together, padded), 1e-5)
    }

    /// Decode + preprocess + encode from the image files, end to end.
    func testEndToEndFromFiles() throws {
        let model = try CLIPModel.load(directory: Fixtures.path("tiny-clip"))
        let ref = try XCTUnwrap(try Fixtures.json("images/reference.json") as? [String: Any])
        let names = (ref["images"] as! [[String: Any]]).map { $0["name"] as! String }
        let pre = Preprocessor(config: model.config)
        var pixels: [Float] = []
        for n in names { pixels += pre.pixels(try ImageDecoder.decode(path: Fixtures.path("images/" + n))) }
        let got = model.encodeImages(pixels, count: names.count)
        let expected = try NPY.read(Fixtures.path("tiny-clip/image_features.npy")).floats()
        let d = model.config.embedDim
        for i in 0..<names.count {
            XCTAssertGreaterThanOrEqual(cosine(got[(i * d)..<((i + 1) * d)], expected[(i * d)..<((i + 1) * d)]), 0.9999, names[i])
        }
    }

    func testRandomModelsAreSeeded() throws {
        let a = try CLIPModel.random("tiny-test", seed: 3), b = try CLIPModel.random("tiny-test", seed: 3)
        let c = try CLIPModel.random("tiny-test", seed: 4)
        XCTAssertEqual(a.text.tokens.values, b.text.tokens.values)
        XCTAssertNotEqual(a.text.tokens.values, c.text.tokens.values)
        XCTAssertThrowsError(try CLIPModel.random("vit-z-99"))
    }
}

/// The one table of CLIP tensors: every name once, sizes that add up to the model's, the image-tower hash over its
/// vision entries, and the Hugging Face files it writes naming q, k and v apart as transformers does.
final class TensorTableTests: XCTestCase {
    func testTheTableCoversEveryTensorOnce() throws {
        for arch in ["tiny-test", "vit-b-32"] {
            let config = try XCTUnwrap(CLIPConfig.named(arch))
            let table = CLIPTensor.table(config)
            XCTAssertEqual(Set(table.map(\.name)).count, table.count, arch)
            XCTAssertEqual(Set(table.map(\.openAIName)).count, table.count, arch)
            XCTAssertEqual(table.count, 8 + 5 + 1 + 12 * (config.vision.layers + config.text.layers), arch)
            guard arch == "tiny-test" else { continue }   // drawing ViT-B/32's 150 M weights would only slow the test
            var rng = SeededRandom(seed: 1)
            let p = CLIPParameters.random(config, rng: &rng)
            XCTAssertEqual(p.count, table.map(\.count).reduce(0, +), arch)
            for t in table { XCTAssertEqual(p[keyPath: t.path].count, t.count, t.name) }
        }
        let model = try CLIPModel.random("tiny-test", seed: 2)
        let names = model.huggingFaceTensors.map(\.name)
        XCTAssertTrue(names.contains("text_model.encoder.layers.0.self_attn.k_proj.weight") && !names.contains { $0.contains(".qkv.") })
        XCTAssertEqual(Set(names).count, names.count)
        // The hash covers the image tower only: a change in the text tower leaves it, one in the vision tower does not.
        let p = CLIPParameters(model: model)
        p.text.finalB[0] += 1
        XCTAssertEqual(p.model(like: model).imageTowerHash, model.imageTowerHash)
        p.vision.blocks[0].fc2b[0] += 1
        XCTAssertNotEqual(p.model(like: model).imageTowerHash, model.imageTowerHash)
    }
}

final class ExportTests: XCTestCase {
    /// A saved model loads back with identical weights and identical features.
    func testSaveAndLoadRoundTrip() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try CLIPModel.random("tiny-test", seed: 9)
        try model.save(directory: dir)
        let loaded = try CLIPModel.load(directory: dir)
        XCTAssertEqual(loaded.config, model.config)
        XCTAssertEqual(loaded.vision.blocks[1].qkvw.values, model.vision.blocks[1].qkvw.values)
        XCTAssertEqual(loaded.text.projection.values, model.text.projection.values)
        XCTAssertEqual(loaded.logitScale, model.logitScale)
        var rng = SeededRandom(seed: 1)
        let s = model.config.imageSize
        let px = rng.normals(2 * 3 * s * s, std: 1)
        XCTAssertEqual(loaded.encodeImages(px, count: 2), model.encodeImages(px, count: 2))
    }
}
