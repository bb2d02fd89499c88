import AlvlmActive
import AlvlmEngine
import AlvlmSettings
import Foundation

extension TextureWorld {
    /// The world's target pool, generated into `directory` (default: this world's folder in the cache's pools
    /// folder) on first use and read back from there afterwards. Ids: train, then val, then test, in index order.
    /// The pool carries the template the tiny CLIP was pretrained with.
    public func pool(directory: String? = nil, progress: ((Int, Int) -> Void)? = nil, cancel: CancellationToken? = nil) throws -> Pool {
        let dir = directory.map { ($0 as NSString).expandingTildeInPath } ?? cacheDirectory()
        let entries = try materialize(into: dir, progress: progress, cancel: cancel)
        var samples: [Sample] = []
        for split in Split.allCases {
            for e in entries where e.split == split { samples.append(Sample(id: samples.count, path: e.path, split: split, label: e.label)) }
        }
        let pool = try Pool(name: "textures", classNames: Self.classNames, samples: samples)
        pool.template = TinyCLIP.template
        return pool
    }
}

extension TinyCLIP {
    /// The tiny CLIP's trainers, tuned once on the world's target pool (README, "The texture world and the tiny
    /// CLIP" and "VPT and MaPLe"): class-specific CoOp, 20 epochs at lr 0.02; MaPLe gains a little with 20 epochs
    /// at lr 0.005 in batches of 8; no VPT setting tried beat zero-shot, and the official recipe lost least, so it stays.
    public static let recommended: Recommendation = {
        var maple = ImagePromptSpec(.maple)
        maple.epochs = 20; maple.batchSize = 8; maple.learningRate = 0.005
        return Recommendation(coop: .coop(epochs: 20, learningRate: 0.02, batchSize: 32, weightDecay: 0.005, contextLength: 4,
                                          contextInit: "a photo of a", classSpecific: true),
                              imagePrompts: [.maple: maple])
    }()

    /// What a model recommends for itself: the tiny CLIP's settings for the shipped model, else nil.
    public static func recommendation(for model: CLIPModel) -> Recommendation? {
        model.source == shippedDirectory ? recommended : nil
    }
}
