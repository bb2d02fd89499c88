import AlvlmActive
import AlvlmEngine
import AlvlmKernels
import AlvlmSettings
import Foundation

/// The embedded default world: procedurally generated texture images of DTD-named classes, with a
/// pretraining distribution (mostly clean images with web-like captions, for the tiny CLIP) and a shifted target
/// distribution (the active-learning pool: other palettes, scales and noise, a long-tailed class mix).
///
/// The captions speak everyday language, as alt-text on the web does: for eight classes they use an everyday word
/// (`everydayName`: "checkered", "spotted", "zigzag", ...) and never the DTD name the pool's classes carry. The
/// image tower still learns those patterns, but the text tower has never been trained on those names' tokens, so
/// zero-shot classification with them is weak and biased (the situation of real CLIP with DTD's unusual class
/// names, exaggerated), which labels (CoOp) and CEC's calibration are there to correct.
/// Every image is a function of (world seed, domain, stream, index), so a pool is reproducible from its seed.
public struct TextureWorld: Sendable {
    public static let classes = TextureClass.allCases
    public static var classNames: [String] { classes.map(\.name) }
    /// Bumped whenever generation changes, so caches of older images are not reused.
    /// 6: images stored without their class in the path (`train/train_00366.png`), so no path shows a labeller the answer.
    public static let version = 6

    public var seed: UInt64
    public var imageSize: Int
    /// Sizes of the target pool's splits: the training pool is long-tailed, val follows it, test is balanced.
    public var trainSize: Int, valSize: Int, testPerClass: Int
    /// Ratio between the most and the least frequent class of the training pool.
    public var imbalance: Double

    public init(seed: UInt64 = 0, imageSize: Int = 64, trainSize: Int = 2400, valSize: Int = 400, testPerClass: Int = 50,
                imbalance: Double = 10) {
        self.seed = seed; self.imageSize = imageSize; self.trainSize = trainSize; self.valSize = valSize
        self.testPerClass = testPerClass; self.imbalance = imbalance
    }

    func validate() throws {
        guard imageSize >= 16, imageSize <= 512 else { throw EngineError(.argument, "image size must be between 16 and 512 (got \(imageSize))") }
        guard trainSize >= 2 * Self.classes.count, valSize >= 0, testPerClass >= 1 else {
            throw EngineError(.argument, "the pool needs at least \(2 * Self.classes.count) training images (two per class), no negative sizes and one test image per class")
        }
        guard imbalance >= 1, imbalance.isFinite else { throw EngineError(.argument, "imbalance must be at least 1 (got \(imbalance))") }
    }

    // MARK: images

    /// A per-image generator, independent of every other image (so generation parallelises and reorders freely).
    func rng(_ domain: TextureDomain, stream: UInt64, index: Int) -> SeededRandom {
        var h = FNV64()
        h.add(seed); h.add(domain.rawValue); h.add(stream); h.add(UInt64(index))
        return SeededRandom(seed: h.value)
    }

    /// One image: RGB bytes, size x size x 3, and the nuisance factors drawn for it.
    public func image(_ cls: TextureClass, domain: TextureDomain, stream: UInt64, index: Int) -> (rgb: [UInt8], style: TextureStyle) {
        var r = rng(domain, stream: stream, index: index)
        let style = domain.sampleStyle(rng: &r)
        return (TexturePainter.render(cls, style: style, size: imageSize, rng: &r), style)
    }

    // MARK: pretraining distribution

    /// Caption templates of the pretraining distribution; `{c}` class, `{fg}` / `{bg}` colour words.
    public static let captionTemplates = [
        "a photo of a {c} texture.", "a photo of a {fg} {c} texture.", "a {fg} {c} texture.", "a {c} pattern in {fg} and {bg}.",
        "{fg} and {bg} {c} surface.", "a close-up photo of a {c} pattern.", "a {c} texture.", "{c}.",
        "a {c} {fg} material.", "a photo of the {c} surface.",
    ]

    /// The everyday word captions mostly use instead of the DTD class name.
    public static let everydayName: [TextureClass: String] = [
        .chequered: "checkered", .polkaDotted: "spotted", .zigzagged: "zigzag", .honeycombed: "hexagonal",
        .spiralled: "spiral", .crosshatched: "hatched", .stratified: "layered", .sprinkled: "speckled",
    ]
    /// How often a caption uses the everyday word instead of the DTD name.
    public static let everydayNameRate = 1.0
    /// The fraction of pretraining images drawn with the target domain's nuisance factors.
    public static let pretrainingTargetStyleRate = 0.3

    /// Pretraining example `index` of `stream`: a uniformly drawn class, an image (mostly clean) and one caption,
    /// which names the class by its everyday word at `everydayNameRate` where it has one.
    public func pretrainingExample(stream: UInt64, index: Int) -> (rgb: [UInt8], caption: String, label: Int) {
        var r = rng(.pretraining, stream: stream ^ 0x5EED, index: index)
        let label = Int(r.next() % UInt64(Self.classes.count))
        let template = Self.captionTemplates[Int(r.next() % UInt64(Self.captionTemplates.count))]
        var named = Self.classes[label].name
        if let everyday = Self.everydayName[Self.classes[label]], r.uniform() < Self.everydayNameRate { named = everyday }
        let domain: TextureDomain = r.uniform() < Self.pretrainingTargetStyleRate ? .target : .pretraining
        let (rgb, style) = image(Self.classes[label], domain: domain, stream: stream, index: index)
        let caption = template.replacingOccurrences(of: "{c}", with: named)
            .replacingOccurrences(of: "{fg}", with: style.foreground.name)
            .replacingOccurrences(of: "{bg}", with: style.background.name)
        return (rgb, caption, label)
    }

    /// Every caption the pretraining distribution can produce, for learning the tokenizer's vocabulary.
    public static func captionCorpus() -> [String] {
        let colours = Set((RGBColor.pretrainingPalette + RGBColor.neutralBackgrounds + RGBColor.pastelPalette + RGBColor.darkPalette
                           + RGBColor.mutedPalette).map(\.name)).sorted()
        var out: [String] = []
        for t in captionTemplates {
            for c in classNames + everydayName.values.sorted() {
                for fg in (t.contains("{fg}") ? colours : [""]) {
                    for bg in (t.contains("{bg}") ? colours : [""]) {
                        out.append(t.replacingOccurrences(of: "{c}", with: c).replacingOccurrences(of: "{fg}", with: fg)
                            .replacingOccurrences(of: "{bg}", with: bg))
                    }
                }
            }
        }
        return out
    }

    // MARK: target pool

    /// The training pool's class frequencies: geometric from 1 down to 1/imbalance over a seeded order of the classes.
    public var classFrequencies: [Double] {
        var r = SeededRandom(seed: seed ^ 0x7A11)
        var order = Array(0..<Self.classes.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(r.next() % UInt64(i + 1))) }
        let k = Double(order.count - 1)
        var f = [Double](repeating: 0, count: order.count)
        for (rank, cls) in order.enumerated() { f[cls] = pow(imbalance, -Double(rank) / k) }
        let total = f.reduce(0, +)
        return f.map { $0 / total }
    }

    /// Labels of a split, in id order: long-tailed counts (train, val; every class at least twice in train) or
    /// balanced (test), interleaved by a seeded shuffle.
    public func labels(_ split: Split) -> [Int] {
        let k = Self.classes.count
        var counts: [Int]
        switch split {
        case .test: counts = [Int](repeating: testPerClass, count: k)
        default:
            let total = split == .train ? trainSize : valSize
            let f = classFrequencies
            let minimum = split == .train ? 2 : 0
            counts = f.map { max(minimum, Int(($0 * Double(total)).rounded())) }
            // Exactly `total` images: rounding surplus or deficit goes to the most frequent class; a surplus it
            // cannot absorb (tiny splits with the per-class minimum) comes off the largest counts above the minimum.
            let top = f.indices.max { f[$0] < f[$1] }!
            var difference = total - counts.reduce(0, +)
            if difference >= 0 { counts[top] += difference }
            while difference < 0 {
                guard let i = counts.indices.filter({ counts[$0] > minimum }).max(by: { counts[$0] < counts[$1] }) else { break }
                counts[i] -= 1
                difference += 1
            }
        }
        var labels = counts.enumerated().flatMap { [Int](repeating: $0.offset, count: $0.element) }
        var r = SeededRandom(seed: seed ^ FNV64.hash(split.rawValue))
        for i in stride(from: labels.count - 1, to: 0, by: -1) { labels.swapAt(i, Int(r.next() % UInt64(i + 1))) }
        return labels
    }

    /// Writes the target pool as PNG files `DIR/<split>/<class>/<split>_<index>.png` (skipping files already
    /// complete from an earlier run), then `manifest.json` last; returns the manifest's entries.
    /// Progress counts images; the token cancels between images (files written so far stay valid).
    public func materialize(into dir: String, progress: ((Int, Int) -> Void)? = nil,
                            cancel: CancellationToken? = nil) throws -> [(split: Split, path: String, label: Int)] {
        try validate()
        let manifestPath = (dir as NSString).appendingPathComponent("manifest.json")
        if let entries = try? Self.readManifest(manifestPath, world: self) { return entries }
        // Images already in the folder are reused only if they were generated with these settings.
        let stampPath = (dir as NSString).appendingPathComponent("settings.json")
        let stamp = try JSONSerialization.data(withJSONObject: settings, options: [.sortedKeys])
        if let old = FileManager.default.contents(atPath: stampPath), old != stamp {
            throw EngineError(.argument, "the folder holds texture images generated with other settings (\(String(decoding: old, as: UTF8.self))): give another folder or delete this one", path: dir)
        }
        // Hidden entries are other writers' temporary files (another session generating the same pool right now
        // writes its stamp through one): they do not make the folder someone else's.
        if FileManager.default.fileExists(atPath: dir),
           let contents = try? FileManager.default.contentsOfDirectory(atPath: dir).filter({ !$0.hasPrefix(".") }),
           !contents.isEmpty, !contents.contains("settings.json") {
            throw EngineError(.argument, "the folder is not empty and was not written by textures(): give an empty or new folder", path: dir)
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try writeAtomically(stamp, to: stampPath)
        var jobs: [(split: Split, index: Int, label: Int, path: String)] = []
        for split in Split.allCases {
            for (i, label) in labels(split).enumerated() {
                let path = (dir as NSString).appendingPathComponent("\(split.rawValue)/\(split.rawValue)_\(String(format: "%05d", i)).png")
                jobs.append((split, i, label, path))
            }
        }
        for split in Split.allCases {
            try FileManager.default.createDirectory(atPath: (dir as NSString).appendingPathComponent(split.rawValue), withIntermediateDirectories: true)
        }
        let lock = NSLock()
        var done = 0, failure: Error?
        let chunk = 64
        for start in stride(from: 0, to: jobs.count, by: chunk) {
            if cancel?.isCancelled == true { throw EngineError(.cancelled, "generating the texture pool cancelled after \(done) of \(jobs.count) images") }
            let part = Array(jobs[start..<min(jobs.count, start + chunk)])
            parallelChunks(part.count) { range in
                for j in range {
                    let job = part[j]
                    if FileManager.default.fileExists(atPath: job.path) { continue }
                    let rgb = image(Self.classes[job.label], domain: .target, stream: FNV64.hash(job.split.rawValue), index: job.index).rgb
                    do { try ContactSheet.writePNG(rgb, width: imageSize, height: imageSize, to: job.path) } catch {
                        lock.lock(); failure = failure ?? error; lock.unlock()
                    }
                }
            }
            if let failure { throw failure }
            done += part.count
            progress?(done, jobs.count)
        }
        var manifest = settings
        manifest["classes"] = Self.classNames
        manifest["images"] = jobs.map { ["split": $0.split.rawValue, "path": ($0.path as NSString).lastPathComponent, "class": Self.classNames[$0.label]] }
        try writeAtomically(try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys]), to: manifestPath)
        return jobs.map { ($0.split, $0.path, $0.label) }
    }

    /// What determines the images: a folder's images are reused only under the same settings.
    var settings: [String: Any] {
        ["version": Self.version, "seed": seed, "image_size": imageSize, "train": trainSize, "val": valSize,
         "test_per_class": testPerClass, "imbalance": imbalance]
    }

    /// The entries of a complete earlier materialisation, if its settings equal this world's.
    static func readManifest(_ path: String, world: TextureWorld) throws -> [(split: Split, path: String, label: Int)] {
        guard let data = FileManager.default.contents(atPath: path),
              let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              root["version"] as? Int == version, (root["seed"] as? NSNumber)?.uint64Value == world.seed,
              root["image_size"] as? Int == world.imageSize, root["train"] as? Int == world.trainSize,
              root["val"] as? Int == world.valSize, root["test_per_class"] as? Int == world.testPerClass,
              (root["imbalance"] as? NSNumber)?.doubleValue == world.imbalance,
              let images = root["images"] as? [[String: String]] else {
            throw EngineError(.format, "no matching manifest", path: path)
        }
        let dir = (path as NSString).deletingLastPathComponent
        return try images.map { e in
            guard let split = e["split"].flatMap(Split.init(rawValue:)), let file = e["path"], let cls = e["class"], let label = classNames.firstIndex(of: cls) else {
                throw EngineError(.format, "malformed manifest entry", path: path)
            }
            let full = (dir as NSString).appendingPathComponent("\(split.rawValue)/\(file)")
            guard FileManager.default.fileExists(atPath: full) else { throw EngineError(.io, "missing image", path: full) }
            return (split, full, label)
        }
    }

    /// This world's pool folder inside `pools` (by default the pools folder of the cache, `Settings`): a name
    /// made of every setting that changes the images.
    public func cacheDirectory(in pools: String = Settings.process.poolsDirectory) -> String {
        // Seeds are shown as the user wrote them: -1, not 18446744073709551615.
        let name = "textures-v\(Self.version)-seed\(Int64(bitPattern: seed))-\(imageSize)px-\(trainSize)-\(valSize)-\(testPerClass)-x\(imbalance)"
        return (pools as NSString).appendingPathComponent(name)
    }
}
