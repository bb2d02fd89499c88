import AlvlmActive
import AlvlmEngine
import AlvlmLanguage
import Foundation

/// A pool in the language, with its image features per model (computed once, cached on disk too).
public final class PoolObject: LanguageObject {
    public let pool: Pool
    /// Keyed by the model object's serial number (never reused, unlike an object's address).
    var featureCache: [Int: [Split: PoolFeatures]] = [:]
    public static let typeName = "pool"
    public init(_ pool: Pool) { self.pool = pool }
    public var summary: String {
        let train = pool.ids(.train).count
        return "\(pool.summary)\n  budget 1% of the training pool = \(max(1, train / 100)) images per round"
    }

    public func features(_ split: Split, model: ModelObject, host: LanguageHost) throws -> PoolFeatures {
        if let f = featureCache[model.serial]?[split] { return f }
        let ids = pool.ids(split)
        guard !ids.isEmpty else { throw LanguageError(.runtime, "pool \(pool.name) has no \(split.rawValue) images") }
        let total = ids.count
        var lastReport = Date.distantPast
        let f = try PoolFeatures.compute(pool: pool, ids: ids, model: model.model, cache: model.cache, progress: { done, all in
            if done == all || Date().timeIntervalSince(lastReport) > 0.5 {
                lastReport = Date()
                host.progress("encoding \(split.rawValue) images \(done)/\(total)")
            }
        }, cancel: WatchingToken(host: host))
        featureCache[model.serial, default: [:]][split] = f
        return f
    }
}

/// A split of a pool (`pool.test`).
public final class SplitObject: LanguageObject {
    public let pool: PoolObject
    public let split: Split
    public static let typeName = "split"
    init(_ pool: PoolObject, _ split: Split) { self.pool = pool; self.split = split }
    public var summary: String { "\(split.rawValue) split of \(pool.pool.name): \(pool.pool.ids(split).count) images" }
}

public final class ModelObject: LanguageObject {
    public let model: CLIPModel
    public let cache: FeatureCache?
    /// The trainers this model is best adapted with (the tiny CLIP carries its own; others the paper's).
    public let recommended: Recommendation
    /// How the user named the model (`clip(SOURCE)`), which a sweep records to load it again elsewhere.
    public var source: String?
    let serial: Int
    nonisolated(unsafe) static var nextSerial = 0
    public static let typeName = "model"
    init(_ model: CLIPModel, cache: FeatureCache?, recommended: Recommendation = .paper) {
        self.model = model; self.cache = cache; self.recommended = recommended
        Self.nextSerial += 1
        serial = Self.nextSerial
    }
    public var summary: String {
        let c = model.config
        return "model \(model.source): ViT \(c.vision.width)w x \(c.vision.layers)L patch \(c.patchSize) at \(c.imageSize)px, " +
            "text \(c.text.width)w x \(c.text.layers)L, embedding \(c.embedDim), logit scale \(formatNumber(Double(exp(model.logitScale))))" +
            (model.effectiveImagePrecision == .bfloat16 ? ", images encoded in bfloat16 (\(BFloat16.support))" : "")
    }
}

/// The engine's cancellation token, answering from the host's interrupt flag too (polled by long loops).
final class WatchingToken: CancellationToken, @unchecked Sendable {
    weak var host: LanguageHost?
    init(host: LanguageHost) { self.host = host }
    override var isCancelled: Bool { super.isCancelled || (host?.isCancelled ?? false) }
}

public final class StrategyObject: LanguageObject {
    public let spec: StrategySpec
    public static let typeName = "strategy"
    init(_ spec: StrategySpec) { self.spec = spec }
    public var summary: String {
        // The full settings follow for CEC, so the name alone (without the label's non-default list) comes first.
        var s = "strategy \(spec.wrapper.map { "\($0.rawValue)(\(spec.name))" } ?? spec.name)"
        if spec.name == "cec" {
            s += " (N \(spec.support), k \(spec.neighbours), rho \(formatNumber(spec.rho)), beta \(formatNumber(spec.beta)), prior \(spec.prior), kernel \(spec.kernel), " +
                "calibration \(spec.calibrate ? "on" : "off"), clustering \(spec.clustering), neighbours \(spec.knn)" +
                (spec.knn == "exact" ? "" : " (index at recall \(formatNumber(spec.knnRecall)))") + ", seeding \(spec.seeding), assignment \(spec.assignment))"
        }
        return s + " - " + ((try? spec.make().citation) ?? "")
    }
}

/// What `coop(...)` was given: each setting overrides only itself, on top of the model's recommended CoOp trainer.
public struct CoOpOverrides {
    var epochs: Int?, learningRate: Double?, batchSize: Int?, weightDecay: Double?, contextLength: Int?, classSpecific: Bool?
    /// nil: not given; .some(nil): random context.
    var contextInit: String??

    func applied(to base: TrainerSpec, _ args: Arguments) throws -> TrainerSpec {
        guard case let .coop(e, lr, b, wd, n, phrase, csc) = base else { return base }
        let length = contextLength ?? n
        var initPhrase = contextInit ?? phrase
        // A new context length without a new phrase: the recommended phrase only if it still fits.
        if contextInit == nil, contextLength != nil, let p = initPhrase, p.split(separator: " ").count != length { initPhrase = nil }
        if let p = initPhrase, p.split(separator: " ").count != length {
            throw args.error("n_ctx", "n_ctx \(length) does not match the \(p.split(separator: " ").count) words of init \"\(p)\" (init: nil for random context)")
        }
        return .coop(epochs: epochs ?? e, learningRate: learningRate ?? lr, batchSize: batchSize ?? b, weightDecay: weightDecay ?? wd,
                     contextLength: length, contextInit: initPhrase, classSpecific: classSpecific ?? csc)
    }
}

/// What `vpt(...)` or `maple(...)` was given: a recipe (which replaces the model's recommended settings) and settings
/// that override only themselves.
public struct ImagePromptOverrides {
    var method: PromptMethod
    var recipe: PromptRecipe?
    var epochs: Int?, learningRate: Double?, batchSize: Int?, weightDecay: Double?, contextLength: Int?, depth: Int?, views: Int?
    var contextInit: String??

    /// On top of `recommended` (the model's settings for this method), unless a recipe was named.
    func applied(to recommended: ImagePromptSpec) -> ImagePromptSpec {
        var s = recipe.map { ImagePromptSpec(method, recipe: $0) } ?? recommended
        if let epochs { s.epochs = epochs }
        if let learningRate { s.learningRate = learningRate }
        if let batchSize { s.batchSize = batchSize }
        if let weightDecay { s.weightDecay = weightDecay }
        if let contextLength { s.contextLength = contextLength }
        if let depth { s.depth = depth }
        if let views { s.views = views }
        if let contextInit { s.contextInit = contextInit }
        return s
    }
}

public final class TrainerObject: LanguageObject {
    /// The trainer as it stands alone (coop: its overrides on the paper's settings; vpt/maple: on the official recipe).
    public let spec: TrainerSpec
    /// For coop(...): what was given, applied to the model's recommended trainer when used.
    let coopOverrides: CoOpOverrides?
    /// For vpt(...) and maple(...): the same.
    let promptOverrides: ImagePromptOverrides?
    public static let typeName = "trainer"
    init(_ spec: TrainerSpec) { self.spec = spec; coopOverrides = nil; promptOverrides = nil }
    init(coop: CoOpOverrides) {
        coopOverrides = coop; promptOverrides = nil
        spec = (try? coop.applied(to: .paper, Arguments.empty)) ?? .paper
    }
    init(prompts: ImagePromptOverrides) {
        coopOverrides = nil; promptOverrides = prompts
        spec = .imagePrompts(prompts.applied(to: ImagePromptSpec(prompts.method)))
    }

    /// The trainer for a model: given settings on top of the model's recommended ones.
    func resolved(_ recommended: Recommendation, _ args: Arguments) throws -> TrainerSpec {
        if let o = coopOverrides { return try o.applied(to: recommended.coop, args) }
        if let o = promptOverrides { return .imagePrompts(o.applied(to: recommended.imagePrompts(o.method))) }
        return spec
    }

    public var summary: String {
        Self.describe(spec) + (coopOverrides != nil || promptOverrides != nil ? " (given settings on top of the model's recommended ones)" : "")
    }
    static func describe(_ spec: TrainerSpec) -> String {
        switch spec {
        case let .imagePrompts(s):
            let what = s.method == .vpt ? "vpt: \(s.contextLength) visual tokens at layers 0..\(s.depth - 1)"
                : "maple: \(s.contextLength) text tokens from \(s.contextInit.map { "\"\($0)\"" } ?? "random") coupled to the image tower, layers 0..\(s.depth - 1)"
            return "trainer \(what), \(s.epochs) epochs, lr \(formatNumber(s.learningRate)), batch \(s.batchSize), weight decay \(formatNumber(s.weightDecay))" +
                (s.views > 1 ? ", \(s.views) augmented views" : "")
        case let .coop(epochs, lr, batch, wd, n, phrase, csc):
            return "trainer coop: \(epochs) epochs, lr \(formatNumber(lr)), batch \(batch), weight decay \(formatNumber(wd)), \(n) context vectors\(csc == true ? " per class" : "") from \(phrase.map { "\"\($0)\"" } ?? "random")"
        case .linearProbe: return "trainer linear probe (logistic regression, L2 chosen on held-out labels)"
        case TrainerSpec.none: return "no training (zero-shot throughout)"
        }
    }
}

/// Per-sample scores of a strategy on a pool (for histograms).
public final class ScoresObject: LanguageObject {
    public let name: String
    public let values: [Double]
    public let ids: [Int]
    /// The natural fixed range for histograms (e.g. [0, ln C] for entropies), so rounds compare.
    public let range: (Double, Double)?
    public static let typeName = "scores"
    init(name: String, values: [Double], ids: [Int], range: (Double, Double)? = nil) {
        self.name = name; self.values = values; self.ids = ids; self.range = range
    }
    public var summary: String {
        guard !values.isEmpty else { return "scores \(name): none" }
        let mean = values.reduce(0, +) / Double(values.count)
        return "scores \(name) for \(values.count) samples: min \(formatNumber(values.min()!)), mean \(formatNumber(mean)), max \(formatNumber(values.max()!))"
    }
}

/// The samples a strategy asked for.
public final class QueryObject: LanguageObject {
    public let pool: PoolObject
    public let strategy: String
    public let ids: [Int]
    public let scores: [Double]
    public let predicted: [Int?]
    /// The model's three most probable classes for each sample, with probabilities.
    public let guesses: [[(label: Int, probability: Double)]]
    public let note: String?
    /// What chose the batch (strategy, context, selection, the sample id of every context row), for explain().
    public internal(set) var source: (StrategySpec, SelectionContext, Selection, [Int])?
    public static let typeName = "query"
    /// From each sample's class probabilities: the top class as the prediction and the top three as guesses.
    convenience init(pool: PoolObject, strategy: String, ids: [Int], scores: [Double], probabilities: [[Double]], note: String?) {
        let guesses = probabilities.map { p -> [(label: Int, probability: Double)] in
            let order = p.indices.sorted { p[$0] > p[$1] }.prefix(3)
            return order.map { (label: $0, probability: p[$0]) }
        }
        self.init(pool: pool, strategy: strategy, ids: ids, scores: scores, predicted: guesses.map { $0.first?.label }, guesses: guesses, note: note)
    }

    init(pool: PoolObject, strategy: String, ids: [Int], scores: [Double], predicted: [Int?],
         guesses: [[(label: Int, probability: Double)]] = [], note: String?) {
        self.pool = pool; self.strategy = strategy; self.ids = ids; self.scores = scores; self.predicted = predicted
        self.guesses = guesses; self.note = note
    }
    public var summary: String {
        var lines = ["query by \(strategy): \(ids.count) samples" + (note.map { " (\($0))" } ?? "")]
        for (i, id) in ids.prefix(10).enumerated() {
            let p = predicted[i].map { pool.pool.classNames[$0] } ?? "?"
            let s = scores[i].isFinite ? formatNumber(scores[i]) : "-"
            lines.append("  id \(id)  score \(s)  predicted \(p)")   // no path: it often names the class
        }
        if ids.count > 10 { lines.append("  ... \(ids.count - 10) more") }
        return lines.joined(separator: "\n")
    }
}

public final class EvaluationObject: LanguageObject {
    public let evaluation: Evaluation
    public let classNames: [String]
    public let title: String
    public static let typeName = "evaluation"
    init(_ e: Evaluation, classNames: [String], title: String) { evaluation = e; self.classNames = classNames; self.title = title }
    public var summary: String {
        let e = evaluation
        var lines = [String(format: "%@: accuracy %.2f%% on %d images, ECE %.3f", title, 100 * e.accuracy, e.count, e.expectedCalibrationError)]
        let width = min(28, classNames.map(\.count).max() ?? 8)
        lines.append("  " + "class".padding(toLength: width, withPad: " ", startingAt: 0) + "  accuracy  true  predicted")
        for k in 0..<min(classNames.count, 60) {
            let acc = e.perClassAccuracy[k].map { String(format: "%6.1f%%", 100 * $0) } ?? "     - "
            lines.append("  " + String(classNames[k].prefix(width)).padding(toLength: width, withPad: " ", startingAt: 0)
                + "  \(acc)  \(String(format: "%4d", e.trueHistogram[k]))  \(String(format: "%9d", e.predictedHistogram[k]))")
        }
        if classNames.count > 60 { lines.append("  ... \(classNames.count - 60) more classes") }
        let ratio = zip(e.predictedHistogram, e.trueHistogram).map { $1 > 0 ? Double($0) / Double($1) : 0 }.max() ?? 0
        lines.append(String(format: "  largest predicted/true count ratio %.2f", ratio))
        return lines.joined(separator: "\n")
    }
}

public final class ExperimentObject: LanguageObject {
    public let experiment: Experiment
    public let poolObject: PoolObject
    public let modelObject: ModelObject
    public static let typeName = "experiment"
    init(_ e: Experiment, pool: PoolObject, model: ModelObject) { experiment = e; poolObject = pool; modelObject = model }
    public var summary: String {
        let s = experiment.state
        var lines = ["experiment: \(s.config.strategy.label) on \(s.pool), \(s.rounds.count)/\(s.config.rounds) rounds of \(experiment.budgetPerRound), seed \(Int64(bitPattern: s.config.seed))",
                     "  " + TrainerObject.describe(s.config.trainer)]
        for r in s.rounds {
            lines.append(String(format: "  round %d: %4d labels, accuracy %6.2f%%, %d classes covered", r.round, r.labelsUsed, 100 * r.accuracy, r.classesCovered)
                         + (r.note.map { " (\($0))" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }
}

public final class ComparisonObject: LanguageObject {
    public let comparison: Comparison
    public static let typeName = "comparison"
    init(_ c: Comparison) { comparison = c }
    public var summary: String {
        "comparison of \(comparison.strategies.joined(separator: ", ")) over \(comparison.seeds.count) seed\(comparison.seeds.count == 1 ? "" : "s")"
            + (comparison.partialNote.map { " (\($0))" } ?? "") + "\n" + comparison.table()
    }
}

/// A table to show: aligned text, and Markdown for hosts that render it (Jupyter).
public final class TableObject: LanguageObject, MarkdownRepresentable {
    public let text: String
    public let markdown: String
    public static let typeName = "table"
    public var summary: String { text }
    init(text: String, markdown: String) { self.text = text; self.markdown = markdown }
}

/// A pseudo-labelling setting for experiments (`sq()`, `agreement(...)`).
public final class PseudoObject: LanguageObject {
    public let setting: PseudoLabelling
    public static let typeName = "pseudo"
    init(_ setting: PseudoLabelling) { self.setting = setting }
    public var summary: String { "pseudo-labelling: \(setting.description)" }
}
