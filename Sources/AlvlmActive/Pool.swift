import AlvlmEngine
import Foundation

public enum Split: String, Codable, CaseIterable, Sendable { case train, val, test }

/// One image of a pool. `id` is stable: it names the sample in every file the project writes.
public struct Sample: Codable, Equatable, Sendable {
    public let id: Int
    public let path: String
    public let split: Split
    /// Ground truth. Strategies never see it; for the training split it reaches experiments only through an oracle.
    let label: Int

    public init(id: Int, path: String, split: Split, label: Int) {
        self.id = id; self.path = path; self.split = split; self.label = label
    }
}

/// A dataset as active learning sees it: samples with stable ids, class names and splits.
/// What changes during an experiment (the labelled map and the round log) lives outside, in `PoolState`.
public final class Pool {
    public let name: String
    public let classNames: [String]
    public let samples: [Sample]
    /// The zero-shot prompt that suits the dataset ({} is the class name).
    public var template = "a photo of a {}."
    private let byID: [Int: Int]

    public init(name: String, classNames: [String], samples: [Sample]) throws {
        var byID: [Int: Int] = [:]
        for (i, s) in samples.enumerated() {
            guard byID[s.id] == nil else { throw EngineError(.argument, "duplicate sample id \(s.id) in pool \(name)") }
            guard s.label >= 0, s.label < classNames.count else {
                throw EngineError(.argument, "sample \(s.id) has label \(s.label) outside the \(classNames.count) classes")
            }
            byID[s.id] = i
        }
        self.name = name; self.classNames = classNames; self.samples = samples; self.byID = byID
    }

    public var classes: Int { classNames.count }

    /// A hash of ids, paths, splits and class names.
    public var fingerprint: UInt64 {
        var h = FNV64()
        for c in classNames { h.add(c) }
        for s in samples { h.add(UInt64(bitPattern: Int64(s.id))); h.add(s.path); h.add(s.split.rawValue) }
        return h.value
    }
    public func ids(_ split: Split) -> [Int] { samples.filter { $0.split == split }.map(\.id) }
    public func sample(_ id: Int) -> Sample? { byID[id].map { samples[$0] } }
    public func contains(_ id: Int) -> Bool { byID[id] != nil }

    /// Labels of the evaluation splits (val, test), which experiments may use to measure accuracy.
    public func evaluationLabels(_ ids: [Int]) throws -> [Int] {
        try ids.map { id in
            guard let s = sample(id) else { throw EngineError(.argument, "unknown sample id \(id)") }
            guard s.split != .train else { throw EngineError(.argument, "sample \(id) is in the training pool: its label comes from an oracle") }
            return s.label
        }
    }

    /// Ground truth for the simulated oracle (module-internal).
    func groundTruth(_ id: Int) -> Int? { sample(id)?.label }

    public var summary: String {
        let counts = Split.allCases.map { split in "\(split.rawValue) \(samples.filter { $0.split == split }.count)" }
        return "pool \(name): \(classes) classes, \(samples.count) images (\(counts.joined(separator: ", ")))"
    }
}

/// Image features of a pool's samples for one model, by sample id.
public struct PoolFeatures {
    public let width: Int
    public let ids: [Int]
    public let values: [Float]       // [ids.count, width], as the model returns them (not normalised)
    private let row: [Int: Int]

    public init(ids: [Int], values: [Float], width: Int) {
        precondition(values.count == ids.count * width, "feature rows do not match ids")
        self.ids = ids; self.values = values; self.width = width
        self.row = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
    }

    public func rows(for ids: [Int]) throws -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(ids.count * width)
        for id in ids {
            guard let r = row[id] else { throw EngineError(.argument, "no features for sample \(id)") }
            out += values[(r * width)..<((r + 1) * width)]
        }
        return out
    }

    /// Encodes (or reads from the cache) the features of the given samples of a pool.
    public static func compute(pool: Pool, ids: [Int], model: CLIPModel, cache: FeatureCache?,
                               progress: ((Int, Int) -> Void)? = nil, cancel: CancellationToken? = nil) throws -> PoolFeatures {
        let paths = try ids.map { id -> String in
            guard let s = pool.sample(id) else { throw EngineError(.argument, "unknown sample id \(id)") }
            return s.path
        }
        let values = try ImageFeatureExtractor(model: model, cache: cache).features(paths: paths, progress: progress, cancel: cancel)
        return PoolFeatures(ids: ids, values: values, width: model.config.embedDim)
    }

    /// Features of the given samples under an image prompt learner's prompts (VPT, MaPLe): decoded afresh, since the
    /// prompts change the image tower (nothing cached).
    public static func compute(pool: Pool, ids: [Int], learner: ImagePromptLearner, batch: Int = 16,
                               progress: ((Int, Int) -> Void)? = nil, cancel: CancellationToken? = nil) throws -> PoolFeatures {
        let pre = Preprocessor(config: learner.model.config), e = learner.model.config.embedDim
        var values: [Float] = []
        values.reserveCapacity(ids.count * e)
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(ids.count, start + batch)])
            let pixels = try pool.pixels(chunk, views: 0, seed: 0, preprocessor: pre)
            values += try learner.imageFeatures(pixels, count: chunk.count, batch: batch, cancel: cancel)
            start += chunk.count
            progress?(start, ids.count)
        }
        return PoolFeatures(ids: ids, values: values, width: e)
    }
}

extension Pool {
    /// Normalised pixels of the given samples, `views` per sample (0: the centre crop, one per sample).
    public func pixels(_ ids: [Int], views: Int, seed: UInt64, preprocessor: Preprocessor) throws -> [Float] {
        var out: [Float] = []
        for id in ids {
            guard let s = sample(id) else { throw EngineError(.argument, "unknown sample id \(id)") }
            out += try ImageFeatureExtractor.pixels(path: s.path, views: views, seed: seed, preprocessor: preprocessor)
        }
        return out
    }
}
