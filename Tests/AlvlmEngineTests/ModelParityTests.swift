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
        XCTAssertEqual(a.text.tokens, b.text.tokens)
        XCTAssertNotEqual(a.text.tokens, c.text.tokens)
        XCTAssertThrowsError(try CLIPModel.random("vit-z-99"))
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
        XCTAssertEqual(loaded.vision.blocks[1].qkvw, model.vision.blocks[1].qkvw)
        XCTAssertEqual(loaded.text.projection, model.text.projection)
        XCTAssertEqual(loaded.logitScale, model.logitScale)
        var rng = SeededRandom(seed: 1)
        let s = model.config.imageSize
        let px = rng.normals(2 * 3 * s * s, std: 1)
        XCTAssertEqual(loaded.encodeImages(px, count: 2), model.encodeImages(px, count: 2))
    }
}
