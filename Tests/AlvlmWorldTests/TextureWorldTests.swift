import AlvlmTestSupport
import XCTest
@testable import AlvlmActive
@testable import AlvlmEngine
@testable import AlvlmWorld

/// The embedded texture world, its vocabulary and the pretraining command.
final class TextureWorldTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testGeneratorIsDeterministicPerSeed() {
        let a = TextureWorld(seed: 3), b = TextureWorld(seed: 3), c = TextureWorld(seed: 4)
        for cls in TextureWorld.classes {
            for domain in [TextureDomain.pretraining, .target] {
                let x = a.image(cls, domain: domain, stream: 7, index: 11).rgb
                XCTAssertEqual(x.count, 64 * 64 * 3)
                XCTAssertEqual(x, b.image(cls, domain: domain, stream: 7, index: 11).rgb, "\(cls) \(domain)")
                XCTAssertNotEqual(x, c.image(cls, domain: domain, stream: 7, index: 11).rgb, "\(cls) \(domain)")
                XCTAssertNotEqual(x, a.image(cls, domain: domain, stream: 7, index: 12).rgb, "\(cls) \(domain)")
            }
        }
        let p = a.pretrainingExample(stream: 1, index: 5), q = b.pretrainingExample(stream: 1, index: 5)
        XCTAssertEqual(p.rgb, q.rgb); XCTAssertEqual(p.caption, q.caption); XCTAssertEqual(p.label, q.label)
        let names = [TextureWorld.classNames[p.label], TextureWorld.everydayName[TextureWorld.classes[p.label]]].compactMap { $0 }
        XCTAssertTrue(names.contains { p.caption.contains($0) }, p.caption)
        // Classes with an everyday word are called by it, never by their DTD name.
        let chequered = (0..<2000).map { a.pretrainingExample(stream: 2, index: $0) }.filter { $0.label == TextureClass.chequered.rawValue }
        let dtd = chequered.filter { $0.caption.contains("chequered") }.count, everyday = chequered.filter { $0.caption.contains("checkered") }.count
        XCTAssertEqual(dtd + everyday, chequered.count)
        XCTAssertEqual(dtd, 0)
        XCTAssertGreaterThan(everyday, 50)
    }

    /// Images not all alike: every class differs from every other on average (a painter that ignores its class fails).
    /// The classes differ in texture, not only in noise: a nearest-centroid classifier on a crude texture signature
    /// (grey-level differences at a few lags and directions, divided by the image's contrast, so palette and contrast
    /// do not count) learned from 8 images per class names held-out images far above chance (1 in 20).
    func testClassesLookDifferent() {
        let w = TextureWorld(seed: 0)
        func signature(_ rgb: [UInt8]) -> [Double] {
            let n = 64
            var grey = [Double](repeating: 0, count: n * n)
            for p in 0..<(n * n) {
                let r = Double(rgb[3 * p]), g = Double(rgb[3 * p + 1]), b = Double(rgb[3 * p + 2])
                grey[p] = r + g + b
            }
            let mean: Double = grey.reduce(0, +) / Double(grey.count)
            var variance = 0.0
            for v in grey { variance += (v - mean) * (v - mean) }
            let sd: Double = max(1e-6, (variance / Double(grey.count)).squareRoot())
            var f: [Double] = []
            for lag in [1, 2, 4, 8] {
                let directions: [(Int, Int)] = [(lag, 0), (0, lag), (lag, lag), (lag, -lag)]
                for (dx, dy) in directions {
                    var sum = 0.0, count = 0
                    for y in max(0, -dy)..<min(n, n - dy) {
                        for x in 0..<(n - dx) {
                            let here: Double = grey[y * n + x], there: Double = grey[(y + dy) * n + x + dx]
                            sum += abs(here - there)
                            count += 1
                        }
                    }
                    f.append(sum / Double(count) / sd)
                }
            }
            return f
        }
        let classes = TextureWorld.classes
        let train = classes.map { cls in (0..<8).map { signature(w.image(cls, domain: .pretraining, stream: 1, index: $0).rgb) } }
        let centroids = train.map { rows in rows[0].indices.map { j in rows.map { $0[j] }.reduce(0, +) / Double(rows.count) } }
        var correct = 0, total = 0
        for (label, cls) in classes.enumerated() {
            for i in 8..<16 {
                let f = signature(w.image(cls, domain: .pretraining, stream: 1, index: i).rgb)
                func distance(_ c: [Double]) -> Double {
                    var d = 0.0
                    for j in f.indices { d += (f[j] - c[j]) * (f[j] - c[j]) }
                    return d
                }
                let nearest = centroids.indices.min { distance(centroids[$0]) < distance(centroids[$1]) }!
                if nearest == label { correct += 1 }
                total += 1
            }
        }
        let accuracy = Double(correct) / Double(total)
        // Measured: 0.62 on this seed.
        XCTAssertGreaterThan(accuracy, 0.3, "held-out accuracy \(accuracy) (chance 0.05)")
    }

    func testPoolSplitsAreStableLongTailedAndDecodeLikeFiles() throws {
        var world = TextureWorld(seed: 2)
        world.trainSize = 200; world.valSize = 40; world.testPerClass = 3
        let pool = try world.pool(directory: dir)
        XCTAssertEqual(pool.ids(.train).count, 200); XCTAssertEqual(pool.ids(.val).count, 40); XCTAssertEqual(pool.ids(.test).count, 60)
        XCTAssertEqual(pool.classNames, TextureWorld.classNames)
        XCTAssertEqual(pool.template, "a photo of a {} texture.")
        var counts = [Int](repeating: 0, count: 20)
        for id in pool.ids(.train) { counts[pool.sample(id)!.label] += 1 }
        XCTAssertGreaterThanOrEqual(counts.min()!, 2)
        XCTAssertGreaterThan(Double(counts.max()!) / Double(counts.min()!), 4, "\(counts)")
        let testCounts = pool.ids(.test).reduce(into: [Int](repeating: 0, count: 20)) { $0[pool.sample($1)!.label] += 1 }
        XCTAssertEqual(Set(testCounts), [3])
        // The files decode through the image path real datasets use, to the generated bytes.
        let pre = Preprocessor(size: 64)
        let labels = world.labels(.test)
        for i in [0, 7, 59] {
            let s = pool.sample(pool.ids(.test)[i])!
            XCTAssertEqual(s.label, labels[i])
            let generated = world.image(TextureWorld.classes[s.label], domain: .target, stream: FNV64.hash("test"), index: i).rgb
            XCTAssertEqual(pre.rgb8(try ImageDecoder.decode(path: s.path)), generated)
        }
        // A second load reuses the files (same ids, same paths) and regenerates a deleted image.
        try FileManager.default.removeItem(atPath: (dir as NSString).appendingPathComponent("manifest.json"))
        let first = pool.sample(0)!.path
        try FileManager.default.removeItem(atPath: first)
        let again = try world.pool(directory: dir)
        XCTAssertEqual(again.samples, pool.samples)
        XCTAssertTrue(FileManager.default.fileExists(atPath: first))
        XCTAssertEqual(again.fingerprint, pool.fingerprint)
        // Split sizes are exact even at the smallest allowed pool.
        var tiny = TextureWorld(seed: 1)
        tiny.trainSize = 40; tiny.valSize = 0; tiny.testPerClass = 1
        XCTAssertEqual(tiny.labels(.train).count, 40)
        XCTAssertEqual(Set(tiny.labels(.train)).count, 20)
        XCTAssertEqual(tiny.labels(.val).count, 0)
        XCTAssertEqual(world.labels(.train).count, 200)
        XCTAssertEqual(TextureWorld().labels(.train).count, 2400)
        // A folder holding images of other settings is refused, not silently reused.
        var other = world
        other.seed = 3
        XCTAssertThrowsError(try other.pool(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("other settings"), "\(error)")
        }
        // Bad settings fail before any work.
        world.imbalance = 0.5
        XCTAssertThrowsError(try world.pool(directory: dir + "/other"))
    }

    func testLearnedVocabularyIsCLIPFormatAndCoversTheCaptions() throws {
        let v = BPELearner.learn(corpus: TextureWorld.captionCorpus())
        try v.write(to: dir, contextLength: 32)
        let tokenizer = try XCTUnwrap(CLIPTokenizer.inDirectory(dir, contextLength: 32))
        XCTAssertEqual(tokenizer.eot, v.symbols.count - 1, "EOT is the largest id (CLIP pools there)")
        XCTAssertEqual(tokenizer.sot, v.symbols.count - 2)
        for name in TextureWorld.classNames where !name.contains("-") {
            XCTAssertEqual(tokenizer.encode(name).count, 3, "\(name) is one token")
        }
        XCTAssertEqual(tokenizer.encode("a photo of a striped texture.").count, 9, "SOT, one token per word and the period, EOT")
        // Words outside the corpus still tokenize (byte fallback), so any class name works with CoOp.
        let unknown = tokenizer.encode("quokka")
        XCTAssertGreaterThan(unknown.count, 3)
        XCTAssertTrue(unknown.dropFirst().dropLast().allSatisfy { $0 < 512 + v.merges.count })
        XCTAssertEqual(BPELearner.learn(corpus: TextureWorld.captionCorpus()).merges.map { "\($0.0) \($0.1)" },
                       v.merges.map { "\($0.0) \($0.1)" }, "deterministic")
    }

    /// The pretraining command's short version: the contrastive loss goes down and the run is reproducible.
    func testShortPretrainingLowersTheLossAndIsReproducible() throws {
        var options = TinyCLIP.Options()
        options.architecture = "tiny-smoke"; options.steps = 40; options.batchSize = 32; options.learningRate = 3e-3
        options.warmupSteps = 5; options.evaluateEvery = 40; options.evaluationSize = 40
        func run() throws -> ([TinyCLIP.Report], CLIPModel) {
            let initial = try TinyCLIP.initialModel(options: options, directory: dir)
            var reports: [TinyCLIP.Report] = []
            let model = try TinyCLIP.pretrain(initial, world: TextureWorld(seed: 0), options: options, onReport: { reports.append($0) })
            return (reports, model)
        }
        let (reports, model) = try run()
        XCTAssertEqual(reports.count, 40)
        let first = reports.prefix(10).map(\.loss).reduce(0, +) / 10, last = reports.suffix(10).map(\.loss).reduce(0, +) / 10
        XCTAssertLessThan(last, first - 0.1, "loss \(first) -> \(last)")
        XCTAssertNotNil(reports.last?.targetAccuracy)
        let (again, model2) = try run()
        XCTAssertEqual(again.map(\.loss), reports.map(\.loss))
        XCTAssertEqual(CLIPParameters(model: model).flattened, CLIPParameters(model: model2).flattened)
        // Cancelling stops between steps and hands the checkpoint the latest weights.
        let token = CancellationToken()
        var saved: CLIPModel?
        let initial = try TinyCLIP.initialModel(options: options, directory: dir)
        XCTAssertThrowsError(try TinyCLIP.pretrain(initial, world: TextureWorld(seed: 0), options: options, cancel: token,
                                                   onReport: { if $0.step == 3 { token.cancel() } }, checkpoint: { m, _ in saved = m })) { error in
            XCTAssertEqual((error as? EngineError)?.kind, .cancelled)
        }
        XCTAssertNotNil(saved)
    }

    /// The shipped tiny CLIP loads, fits the size budget, and its zero-shot accuracy on the fixed check set (the first
    /// 200 target test images) equals the value its training run recorded.
    func testShippedModelReproducesItsRecordedAccuracy() throws {
        let dir = try XCTUnwrap(TinyCLIP.shippedDirectory, "the tiny CLIP is missing from the resources")
        let model = try TinyCLIP.load()
        XCTAssertEqual(model.config.imageSize, 64)
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/training.json"))) as? [String: Any]
        let check = try XCTUnwrap(record?["check_set"] as? [String: Any])
        XCTAssertEqual(record?["complete"] as? Bool, true)
        let recorded = try XCTUnwrap(check["zero_shot_accuracy"] as? Double)
        let measured = try TinyCLIP.zeroShotAccuracy(model, world: TextureWorld(seed: 0), domain: .target, count: check["images"] as? Int ?? 0)
        // Within one image of the 200: another machine's BLAS may round a near-tie the other way.
        XCTAssertEqual(measured, recorded, accuracy: 0.0051)
        // The shipped vocabulary is the one the current world's captions give (a stale model would differ).
        let merges = try String(contentsOfFile: dir + "/merges.txt", encoding: .utf8).split(separator: "\n").dropFirst().map(String.init)
        XCTAssertEqual(merges, BPELearner.learn(corpus: TextureWorld.captionCorpus()).merges.map { "\($0.0) \($0.1)" })
        let bytes = try FileManager.default.contentsOfDirectory(atPath: dir).reduce(0) { total, name in
            total + ((try FileManager.default.attributesOfItem(atPath: dir + "/" + name)[.size] as? Int) ?? 0)
        }
        XCTAssertLessThanOrEqual(bytes, 20_000_000)
    }

    /// The tiny CLIP in bfloat16: its check-set images' embeddings stay at cosine ≥ 0.999 to float32's, and zero-shot
    /// accuracy on the check set moves by at most two images of 200.
    func testShippedModelInBFloat16() throws {
        guard BFloat16.support > .none else { throw XCTSkip("this CPU has neither AMX nor AVX512-BF16") }
        let model = try TinyCLIP.load(), world = TextureWorld(seed: 0)
        let rgb = (0..<24).map { world.image(TextureClass.allCases[$0 % TextureClass.allCases.count], domain: .target, stream: 5, index: $0).rgb }
        let pixels = TinyCLIP.pixels(rgb, model: model), e = model.config.embedDim
        let full = model.encodeImages(pixels, count: rgb.count)
        let accuracy = try TinyCLIP.zeroShotAccuracy(model, world: world, domain: .target, count: 200)
        model.imagePrecision = .bfloat16
        let low = model.encodeImages(pixels, count: rgb.count)
        for i in 0..<rgb.count {
            XCTAssertGreaterThanOrEqual(cosine(low[(i * e)..<((i + 1) * e)], full[(i * e)..<((i + 1) * e)]), 0.999, "image \(i)")
        }
        XCTAssertEqual(try TinyCLIP.zeroShotAccuracy(model, world: world, domain: .target, count: 200), accuracy, accuracy: 0.0101)
    }
}
