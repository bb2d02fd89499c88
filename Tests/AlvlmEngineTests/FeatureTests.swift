import AlvlmTestSupport
import XCTest
@testable import AlvlmEngine

final class FeatureCacheTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func images() throws -> [String] {
        let folder = dir + "/images"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return try ["png_rgb_120x90.png", "jpeg_gray_300x199.jpg", "png_palette_120x160.png"].map { name in
            try FileManager.default.copyItem(atPath: Fixtures.path("images/" + name), toPath: folder + "/" + name)
            return folder + "/" + name
        }
    }

    func testCachedFeaturesEqualFreshOnesAndCorruptionIsRecomputed() throws {
        let model = try CLIPModel.load(directory: Fixtures.path("tiny-clip"))
        let paths = try images()
        let fresh = try ImageFeatureExtractor(model: model).features(paths: paths)
        let cache = try FeatureCache(directory: dir + "/cache")
        let first = try ImageFeatureExtractor(model: model, cache: cache).features(paths: paths)
        XCTAssertEqual(first, fresh)
        let entries = try FileManager.default.contentsOfDirectory(atPath: cache.directory).filter { $0.hasSuffix(".feat") }
        XCTAssertEqual(entries.count, 3)
        // Corrupt every entry: a flipped byte, a truncation, garbage.
        let files = entries.sorted().map { cache.directory + "/" + $0 }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: files[0])))
        bytes[bytes.count - 20] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: files[0]))
        try Data(bytes.prefix(30)).write(to: URL(fileURLWithPath: files[1]))
        try Data("junk".utf8).write(to: URL(fileURLWithPath: files[2]))
        let key = try FeatureCache.key(modelHash: model.imageTowerHash, imagePath: paths[0], settings: "centre-crop size=224")
        XCTAssertNil(cache.lookup(key, rows: 1, width: 16))
        let again = try ImageFeatureExtractor(model: model, cache: cache).features(paths: paths)
        XCTAssertEqual(again, fresh)
        XCTAssertNotNil(cache.lookup(key, rows: 1, width: 16), "recomputed entries are written back")
    }

    /// Threads writing and reading the same entries at once (as two processes sharing a cache do, and what the
    /// sanitizer run checks for races): every write succeeds and every read is a miss or
    /// one writer's values whole, never a mix.
    func testConcurrentWritersNeverTearAnEntry() throws {
        let cache = try FeatureCache(directory: dir + "/cache")
        let rows = 4, width = 2048, writers = 4
        func values(_ writer: Int, _ key: Int) -> [Float] { (0..<(rows * width)).map { Float(writer * 1000 + key * 100 + $0 % 97) } }
        final class Box: @unchecked Sendable { var torn = 0, hits = 0, failed: [String] = []; let lock = NSLock() }
        let box = Box()
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            for round in 0..<200 {
                let key = round % 3
                do { try cache.store("key \(key)", values: values(w, key), rows: rows, width: width) } catch {
                    box.lock.lock(); box.failed.append("\(error)"); box.lock.unlock()
                }
                if let got = cache.lookup("key \((round + 1) % 3)", rows: rows, width: width) {
                    let whole = (0..<writers).contains { values($0, (round + 1) % 3) == got }
                    box.lock.lock(); box.hits += 1; if !whole { box.torn += 1 }; box.lock.unlock()
                }
            }
        }
        XCTAssertEqual(box.failed, [], "every write succeeds")
        XCTAssertEqual(box.torn, 0)
        XCTAssertGreaterThan(box.hits, 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir + "/cache").filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [], "no temporary file is left behind")
    }

    func testKeyChangesWithFileModelAndSettings() throws {
        let path = try images()[0]
        let k1 = try FeatureCache.key(modelHash: 1, imagePath: path, settings: "a")
        XCTAssertNotEqual(k1, try FeatureCache.key(modelHash: 2, imagePath: path, settings: "a"))
        XCTAssertNotEqual(k1, try FeatureCache.key(modelHash: 1, imagePath: path, settings: "b"))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000)], ofItemAtPath: path)
        XCTAssertNotEqual(k1, try FeatureCache.key(modelHash: 1, imagePath: path, settings: "a"))
        let a = try CLIPModel.random("tiny-test", seed: 1), b = try CLIPModel.random("tiny-test", seed: 2)
        XCTAssertNotEqual(a.imageTowerHash, b.imageTowerHash)
        XCTAssertEqual(a.imageTowerHash, try CLIPModel.random("tiny-test", seed: 1).imageTowerHash)
    }

    func testAugmentedViewsAreSeededAndInBounds() throws {
        var rng = SeededRandom(seed: 3)
        let aug = Augmentation(size: 224)
        for _ in 0..<500 {
            let w = 20 + Int(rng.next() % 600), h = 20 + Int(rng.next() % 600)
            let b = aug.cropBox(width: w, height: h, rng: &rng)
            XCTAssertTrue(b.top >= 0 && b.left >= 0 && b.height > 0 && b.width > 0 && b.top + b.height <= h && b.left + b.width <= w)
        }
        let model = try CLIPModel.load(directory: Fixtures.path("tiny-clip"))
        let paths = try images()
        let extractor = ImageFeatureExtractor(model: model)
        let v1 = try extractor.features(paths: paths, views: 3, seed: 5)
        XCTAssertEqual(v1.count, 3 * 3 * 16)
        XCTAssertEqual(v1, try extractor.features(paths: paths, views: 3, seed: 5))
        XCTAssertNotEqual(v1, try extractor.features(paths: paths, views: 3, seed: 6))
        // Order and batching do not change which views an image gets (they are seeded per image, not by position).
        // The numbers agree to float rounding only: another batch size is another GEMM shape, which OpenBLAS may
        // block and sum differently (the determinism contract: bit-identical for the same inputs and batch size,
        // within tolerance otherwise). Another view would differ by far more than the tolerance.
        extractor.batch = 2
        let reversed = try extractor.features(paths: paths.reversed(), views: 3, seed: 5)
        let scale = v1.map { abs($0) }.max()!
        let gap = zip(reversed[(2 * 48)..<(3 * 48)], v1[0..<48]).map { abs($0 - $1) }.max()!
        XCTAssertLessThanOrEqual(gap, 1e-5 * scale, "batch 2 against batch \(ImageFeatureExtractor(model: model).batch)")
        let other = try extractor.features(paths: paths, views: 3, seed: 6)
        XCTAssertGreaterThan(zip(other[0..<48], v1[0..<48]).map { abs($0 - $1) }.max()!, 1e-2 * scale)
    }
}

final class LinearProbeTests: XCTestCase {
    func testObjectiveGradientAndOptimality() throws {
        var rng = SeededRandom(seed: 1)
        let n = 30, d = 5, c = 3
        let centers = rng.normals(c * d, std: 2)
        let labels = (0..<n).map { $0 % c }
        var x: [Float] = []
        for r in 0..<n { for i in 0..<d { x.append(centers[labels[r] * d + i] + Float(rng.normal() * 0.7)) } }
        let xn = normalizedRows(x, width: d)
        let theta = (0..<(c * (d + 1))).map { _ in rng.normal() * 0.3 }
        let (_, g) = LinearProbe.objective(theta, x: xn, labels: labels, classes: c, width: d, l2: 0.01)
        for i in 0..<theta.count {
            var a = theta, b = theta
            a[i] += 1e-6; b[i] -= 1e-6
            let numeric = (LinearProbe.objective(a, x: xn, labels: labels, classes: c, width: d, l2: 0.01).0
                - LinearProbe.objective(b, x: xn, labels: labels, classes: c, width: d, l2: 0.01).0) / 2e-6
            XCTAssertEqual(g[i], numeric, accuracy: 1e-6)
        }
        let probe = try LinearProbe.fit(features: x, labels: labels, classes: c, l2: 0.01)
        let (_, gFit) = LinearProbe.objective(probe.parameters, x: xn, labels: labels, classes: c, width: d, l2: 0.01)
        XCTAssertLessThan(gFit.map(abs).max()!, 1e-5, "the fit is a stationary point")
        XCTAssertGreaterThan(Double(zip(probe.predict(x), labels).filter { $0 == $1 }.count) / Double(n), 0.8)
        let selected = try LinearProbe.fitSelectingL2(features: x, labels: labels, classes: c)
        XCTAssertTrue([1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1].contains(selected.l2))
    }
}
