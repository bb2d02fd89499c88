import AlvlmEngine
import Foundation

/// Everything a strategy may look at when it chooses samples: features, the current model's probabilities,
/// the class text features and the labels obtained so far. Ground truth of unlabelled samples is not here.
public struct SelectionContext {
    /// [rows, width] unit rows: the pool's training samples (labelled and unlabelled), held as the caller chose
    /// (`FeatureStorage`).
    public let featureRows: FeatureRows
    public let rows: Int
    public let width: Int
    /// Rows that may be picked, ascending.
    public let unlabeled: [Int]
    /// Labels obtained so far (row -> class), through the oracle.
    public let labeled: [Int: Int]
    /// [rows, classes]: the current model's probabilities (zero-shot in round 1), in double precision.
    public let probabilities: [Double]
    /// [classes, width] unit rows and the logit scale exp(logit_scale) of the current classifier.
    public let textFeatures: [Float]
    public let scale: Float
    public let classes: Int
    private let converted = ConvertedRows()

    /// The unit rows as one float32 array: the rows themselves when they are float32 in memory; otherwise converted
    /// once, on first use (strategies that read every row as floats; CEC reads `featureRows` a block at a time).
    public var features: [Float] {
        if case .floats(let v) = featureRows.values { return v }
        return converted.floats(of: featureRows)
    }

    /// `features` are normalised in place: passed as the caller's last use, a large pool is not held twice.
    public init(features: consuming [Float], width: Int, unlabeled: [Int], labeled: [Int: Int], probabilities: [Double],
                textFeatures: [Float], scale: Float) throws {
        try self.init(rows: try Self.rows(consume features, width: width), unlabeled: unlabeled, labeled: labeled,
                      probabilities: probabilities, textFeatures: textFeatures, scale: scale)
    }

    /// float32 features as rows of `width`, refused when they are not whole rows.
    private static func rows(_ features: consuming [Float], width: Int) throws -> FeatureRows {
        guard width > 0, !features.isEmpty, features.count % width == 0 else {
            throw EngineError(.argument, "features are not rows of width \(width)")
        }
        return try FeatureRows(consume features, width: width)
    }

    /// `rows` are normalised (float32 arrays in place: pass them as their last use).
    public init(rows features: consuming FeatureRows, unlabeled: [Int], labeled: [Int: Int], probabilities: [Double],
                textFeatures: [Float], scale: Float) throws {
        let rows = features.rows, width = features.width
        guard rows > 0 else { throw EngineError(.argument, "the pool has no feature rows") }
        guard textFeatures.count % width == 0, !textFeatures.isEmpty else {
            throw EngineError(.argument, "text features have width \(textFeatures.count) values, not rows of the image feature width \(width)")
        }
        let classes = textFeatures.count / width
        guard probabilities.count == rows * classes else { throw EngineError(.argument, "probabilities do not match \(rows) rows x \(classes) classes") }
        if let r = features.firstNonFiniteRow() {
            throw EngineError(.numeric, "feature row \(r) holds NaN or infinity")
        }
        guard Set(unlabeled).count == unlabeled.count, unlabeled.allSatisfy({ $0 >= 0 && $0 < rows }) else {
            throw EngineError(.argument, "unlabelled rows must be distinct and within 0..<\(rows)")
        }
        for (r, label) in labeled {
            guard r >= 0, r < rows, label >= 0, label < classes else { throw EngineError(.argument, "labelled row \(r) with label \(label) is out of range") }
        }
        self.featureRows = (consume features).normalized()
        self.rows = rows; self.width = width
        self.unlabeled = unlabeled.sorted()
        self.labeled = labeled
        self.probabilities = probabilities
        self.textFeatures = normalizedRows(textFeatures, width: width)
        self.scale = scale
        self.classes = classes
    }

    /// Probabilities from the features and a classifier: softmax(scale · cos), computed in double precision
    /// from the raw features (so scores match a float64 reference to ~1e-7 even at scale 100).
    public init(features: consuming [Float], width: Int, unlabeled: [Int], labeled: [Int: Int], classifier: Classifier) throws {
        try self.init(rows: try Self.rows(consume features, width: width), unlabeled: unlabeled, labeled: labeled, classifier: classifier)
    }

    /// The same, for rows held in any `FeatureStorage`.
    public init(rows features: consuming FeatureRows, unlabeled: [Int], labeled: [Int: Int], classifier: Classifier) throws {
        let probabilities = try Self.probabilities(features, classifier: classifier)
        try self.init(rows: consume features, unlabeled: unlabeled, labeled: labeled, probabilities: probabilities,
                      textFeatures: classifier.textFeatures, scale: Float(exp(Double(classifier.logitScale))))
    }

    static func probabilities(_ features: FeatureRows, classifier: Classifier) throws -> [Double] {
        let d = features.width
        guard classifier.width == d else {
            throw EngineError(.argument, "image features of width \(d) do not match class text features of width \(classifier.width)")
        }
        let n = features.rows, c = classifier.classes
        let t = normalizedRowsDouble(classifier.rawTextFeatures.map(Double.init), width: d)
        let scale = exp(Double(classifier.logitScale))
        // Blocks of rows on every core: double precision for one block at a time, never for the whole pool.
        let block = 2048, blocks = (n + block - 1) / block
        var out = [Double](repeating: 0, count: n * c)
        out.withUnsafeMutableBufferPointer { ob in
            let o = ob.baseAddress!
            Parallel.chunks(blocks) { _, range in
                for b in range {
                    let r0 = b * block, m = min(block, n - r0)
                    let z = features.withRows(r0, m) { normalizedRowsDouble(UnsafeBufferPointer(start: $0, count: m * d).map(Double.init), width: d) }
                    let logits = Products.rows(z, t, width: d, scale: scale)
                    for r in 0..<m {
                        let row = o + (r0 + r) * c
                        var top = -Double.infinity
                        for k in 0..<c { top = max(top, logits[r * c + k]) }
                        var sum = 0.0
                        for k in 0..<c { let e = exp(logits[r * c + k] - top); row[k] = e; sum += e }
                        for k in 0..<c { row[k] /= sum }
                    }
                }
            }
        }
        return out
    }

    static func normalizedRowsDouble(_ x: [Double], width: Int) -> [Double] {
        var out = x
        for r in 0..<(x.count / width) {
            var s = 0.0
            for i in 0..<width { s += x[r * width + i] * x[r * width + i] }
            let inv = s > 0 ? 1 / s.squareRoot() : 0
            for i in 0..<width { out[r * width + i] *= inv }
        }
        return out
    }

    public func probabilityRow(_ r: Int) -> ArraySlice<Double> { probabilities[(r * classes)..<((r + 1) * classes)] }
    public func feature(_ r: Int) -> ArraySlice<Float> { features[(r * width)..<((r + 1) * width)] }

    /// The features of the given rows, packed.
    public func packed(_ rows: [Int]) -> [Float] {
        // Every row in order (round 1 of a large pool): the features themselves, shared, not copied.
        if rows.count == self.rows, rows.elementsEqual(0..<self.rows) { return features }
        return featureRows.gathered(rows)
    }
}

/// The float32 copy of rows held otherwise, made once on first use.
private final class ConvertedRows: @unchecked Sendable {
    private var cached: [Float]?
    private let lock = NSLock()
    func floats(of rows: FeatureRows) -> [Float] {
        lock.lock(); defer { lock.unlock() }
        if let cached { return cached }
        let floats = rows.floats
        cached = floats
        return floats
    }
}

/// The samples a strategy chose, in its order of preference, with the score that chose each.
public struct Selection {
    public var rows: [Int]
    public var scores: [Double]
    /// Set when the strategy could not run as designed (e.g. CoreSet with no labels) and fell back.
    public var note: String?
    /// Clustering strategies (CEC): the cluster of every unlabelled row (in `context.unlabeled` order) and the
    /// centres [clusters, width], for explanations.
    public var assignment: [Int]?
    public var centres: [Float]?
    /// CEC with approximate neighbours: the index's settings and the recall it reached.
    public var neighbourSearch: InvertedFileNeighbors.Report?
    /// CEC: how the weighted k-means went (seeding, iterations, weighted cost).
    public var clustering: WeightedKMeans.Report?
    /// CEC: seconds per phase, in order (scores, seeding, lloyd, query).
    public var phases: [(name: String, seconds: Double)] = []
    public init(rows: [Int], scores: [Double], note: String? = nil) { self.rows = rows; self.scores = scores; self.note = note }
}

/// An active-learning query strategy. Extension point: conform and register in `Strategies`.
public protocol Strategy {
    var name: String { get }
    /// The paper the strategy comes from.
    var citation: String { get }
    /// Per-unlabelled-row scores (in `context.unlabeled` order; higher means more wanted), for histograms;
    /// nil for strategies without a per-sample score.
    func scores(_ context: SelectionContext) throws -> [Double]?
    func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection
}

extension Strategy {
    func checkBudget(_ budget: Int, _ context: SelectionContext) throws {
        guard budget >= 1 else { throw EngineError(.argument, "budget must be at least 1 (got \(budget))") }
        guard budget <= context.unlabeled.count else {
            throw EngineError(.argument, "budget \(budget) is larger than the \(context.unlabeled.count) unlabelled samples")
        }
    }

    /// The `budget` unlabelled rows with the highest scores (ties to the smaller row).
    func topScored(_ context: SelectionContext, _ scores: [Double], budget: Int) -> Selection {
        let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.prefix(budget)
        return Selection(rows: order.map { context.unlabeled[$0] }, scores: order.map { scores[$0] })
    }

    /// What label-needing strategies do before any label exists (METHOD.md §3): random, and say so.
    func randomFallback(_ context: SelectionContext, budget: Int, rng: inout SeededRandom) -> Selection {
        let rows = randomRows(context, budget: budget, rng: &rng)
        return Selection(rows: rows, scores: rows.map { _ in .nan }, note: "no labelled samples yet: random")
    }

    /// Uniform sampling without replacement from the unlabelled rows.
    func randomRows(_ context: SelectionContext, budget: Int, rng: inout SeededRandom) -> [Int] {
        randomRows(from: context.unlabeled, budget: budget, rng: &rng)
    }

    /// Uniform sampling without replacement from some rows (at most all of them).
    func randomRows(from rows: [Int], budget: Int, rng: inout SeededRandom) -> [Int] {
        var pool = rows
        let budget = min(budget, pool.count)
        for i in 0..<budget {
            let j = i + Int(rng.next() % UInt64(pool.count - i))
            pool.swapAt(i, j)
        }
        return Array(pool.prefix(budget))
    }
}

/// Per-row uncertainty measures of a probability vector.
public enum Uncertainty {
    /// −Σ p log p (natural log, 0 log 0 = 0).
    public static func entropy<S: Sequence>(_ p: S) -> Double where S.Element == Double {
        var h = 0.0
        for v in p where v > 0 { h -= v * log(v) }
        return h
    }
    /// p(top1) − p(top2).
    public static func margin(_ p: ArraySlice<Double>) -> Double {
        var a = -Double.infinity, b = -Double.infinity
        for v in p { if v > a { b = a; a = v } else if v > b { b = v } }
        return a - (b.isFinite ? b : 0)
    }
    public static func argmax(_ p: ArraySlice<Double>) -> Int {
        var best = p.startIndex
        for i in p.indices where p[i] > p[best] { best = i }
        return best - p.startIndex
    }
}
