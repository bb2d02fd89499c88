import AlvlmEngine
import Foundation

/// What adapts the model to the labelled set after each round.
public enum TrainerSpec: Codable, Equatable, Sendable {
    /// CoOp from a fresh "a photo of a" context every round (the paper's protocol).
    /// `classSpecific`: one context per class (CoOp's CSC variant) instead of one shared by all classes
    /// (optional so that experiment files saved before it existed still load; nil is shared).
    case coop(epochs: Int, learningRate: Double, batchSize: Int, weightDecay: Double, contextLength: Int, contextInit: String?,
              classSpecific: Bool? = nil)
    /// Prompts inside the image tower (VPT, MaPLe), re-initialised every round; trained on the labelled images.
    case imagePrompts(ImagePromptSpec)
    /// Logistic regression on the image features (L2 chosen on held-out labelled samples).
    case linearProbe
    /// No training: the zero-shot model throughout.
    case none

    public static let paper = TrainerSpec.coop(epochs: 200, learningRate: 0.002, batchSize: 32, weightDecay: 0.005,
                                               contextLength: 4, contextInit: "a photo of a", classSpecific: false)
}

/// A VPT or MaPLe trainer's settings.
public struct ImagePromptSpec: Codable, Equatable, Sendable {
    public var method: PromptMethod
    public var contextLength: Int
    public var depth: Int
    /// MaPLe's prompt before the class name (its first n tokens learned); unused by VPT.
    public var contextInit: String?
    public var epochs: Int
    public var learningRate: Double
    public var batchSize: Int
    public var weightDecay: Double
    /// Views per labelled image: 1 the centre crop; more: random-resized-crop-and-flip views, one drawn per epoch.
    public var views: Int

    /// A recipe's settings for a method (`PromptRecipe`).
    public init(_ method: PromptMethod, recipe: PromptRecipe = .official) {
        let t = recipe.trainer(method)
        self.method = method
        contextLength = recipe.contextLength(method); depth = recipe.depth(method)
        contextInit = method == .maple ? "a photo of a" : nil
        epochs = t.epochs; learningRate = t.learningRate; batchSize = t.batchSize; weightDecay = t.weightDecay
        views = 1
    }
}

public struct ExperimentConfig: Codable, Equatable, Sendable {
    public var strategy: StrategySpec
    public var rounds: Int
    public var budget: Budget
    public var trainer: TrainerSpec
    public var seed: UInt64
    /// The zero-shot template; nil: the pool's (the paper's datasets: "a photo of a {}.").
    public var template: String? = nil
    /// Labels for free (nil: none, and in files saved before it existed).
    public var pseudo: PseudoLabelling? = nil

    public init(strategy: StrategySpec, rounds: Int = 6, budget: Budget = .percent(1), trainer: TrainerSpec = .paper, seed: UInt64 = 1) {
        self.strategy = strategy; self.rounds = rounds; self.budget = budget; self.trainer = trainer; self.seed = seed
    }
}

/// One finished round.
public struct RoundRecord: Codable, Equatable, Sendable {
    public var round: Int
    public var labelsUsed: Int
    public var accuracy: Double
    public var perClassAccuracy: [Double?]
    public var expectedCalibrationError: Double
    /// Classes with at least one label after this round.
    public var classesCovered: Int
    public var queried: [Int]
    public var scores: [Double?]
    public var note: String?
    public var seconds: [String: Double]
    public var seed: UInt64
    /// With pseudo-labelling: the pseudo-labels the round trained on, how many of them were right (from the
    /// simulation's ground truth, for the record only), and the oracle labels selective querying saved this round.
    public var pseudoLabels: Int? = nil
    public var pseudoCorrect: Int? = nil
    public var labelsSaved: Int? = nil
}

/// The whole state of an experiment: enough to resume it exactly.
public struct ExperimentState: Codable, Equatable, Sendable {
    public var config: ExperimentConfig
    public var pool: String
    public var model: String
    public var labeled: [Int: Int] = [:]
    public var rounds: [RoundRecord] = []
    /// The prompts trained in the last round: CoOp's context, or the VPT/MaPLe tensors' values (nil: zero-shot).
    public var context: [Float]?
    /// A hash of the pool's ids, paths, splits and classes: a resumed run must use the same pool.
    public var poolFingerprint: UInt64?
    /// This experiment's name in the label journal (its entries are told from other experiments' by it).
    public var journalID: String?
    /// Queried ids the annotator skipped: never queried again in this experiment (nil in files saved before).
    public var skipped: [Int]?
    /// Samples selective querying labelled with the model's prediction instead of the oracle (id -> class): trained on
    /// and never queried again (nil without it).
    public var pseudoLabeled: [Int: Int]?
    public var version = 1
}

extension ExperimentState {
    /// What a saved file may say that the pool or the configuration contradicts (a file edited by hand, or another
    /// pool's): every labelled, skipped or pseudo-labelled id a training sample of the pool, every label one of its
    /// classes, no more rounds than configured, each round's queries in the pool.
    public func check(against pool: Pool) throws {
        func fail(_ m: String) -> EngineError { EngineError(.format, "the saved experiment \(m)") }
        func checkID(_ id: Int, _ what: String) throws {
            guard let sample = pool.sample(id) else { throw fail("has \(what) id \(id), which the pool \(pool.name) does not have") }
            guard sample.split == .train else { throw fail("has \(what) id \(id), which is in the \(sample.split.rawValue) split, not train") }
        }
        for (id, label) in labeled.sorted(by: { $0.key < $1.key }) {
            try checkID(id, "labelled")
            guard label >= 0, label < pool.classes else { throw fail("labels id \(id) as class \(label); the pool has \(pool.classes) classes") }
        }
        for (id, label) in (pseudoLabeled ?? [:]).sorted(by: { $0.key < $1.key }) {
            try checkID(id, "pseudo-labelled")
            guard label >= 0, label < pool.classes else { throw fail("pseudo-labels id \(id) as class \(label); the pool has \(pool.classes) classes") }
        }
        for id in skipped ?? [] { try checkID(id, "skipped") }
        guard config.rounds >= 1, rounds.count <= config.rounds else {
            throw fail("has \(rounds.count) rounds of \(config.rounds) configured")
        }
        for r in rounds {
            for id in r.queried { try checkID(id, "queried") }
            guard r.perClassAccuracy.count <= pool.classes else { throw fail("round \(r.round) has \(r.perClassAccuracy.count) per-class accuracies for \(pool.classes) classes") }
        }
        if let context, !context.allSatisfy(\.isFinite) { throw fail("has prompts that are not finite numbers") }
    }
}

/// An active-learning experiment: rounds of select → label → train → evaluate on one pool with one model.
public final class Experiment {
    public let pool: Pool
    public let model: CLIPModel
    public let trainFeatures: PoolFeatures
    public let testFeatures: PoolFeatures
    public private(set) var state: ExperimentState
    /// Where the state is saved after every round (atomically), if set.
    public var statePath: String?
    public var journal: LabelJournal?
    /// Take answers journaled earlier for the same images of the same pool (by `label()` or another experiment)
    /// instead of asking again; each reuse is reported.
    public var reuseEarlierAnswers = true
    /// Where the experiment says what it did that the user should know (answers reused).
    public var report: ((String) -> Void)?

    let strategy: Strategy
    let budget: Int
    let zeroShot: Classifier

    public init(pool: Pool, model: CLIPModel, trainFeatures: PoolFeatures, testFeatures: PoolFeatures,
                config: ExperimentConfig, resumeFrom state: ExperimentState? = nil) throws {
        guard config.rounds >= 1 else { throw EngineError(.argument, "rounds must be at least 1 (got \(config.rounds))") }
        guard trainFeatures.width == model.config.embedDim, testFeatures.width == model.config.embedDim else {
            throw EngineError(.argument, "features of width \(trainFeatures.width) do not match the model's \(model.config.embedDim)")
        }
        guard !testFeatures.ids.isEmpty else { throw EngineError(.argument, "the pool has no test split to evaluate on") }
        self.pool = pool; self.model = model
        self.trainFeatures = trainFeatures; self.testFeatures = testFeatures
        self.strategy = try config.strategy.make()
        self.budget = try config.budget.resolve(poolSize: trainFeatures.ids.count)
        guard budget <= trainFeatures.ids.count, budget.multipliedReportingOverflow(by: config.rounds).partialValue <= trainFeatures.ids.count,
              !budget.multipliedReportingOverflow(by: config.rounds).overflow else {
            throw EngineError(.argument, "\(config.rounds) rounds of \(budget) need \(budget * config.rounds) samples; the pool has \(trainFeatures.ids.count)")
        }
        self.zeroShot = try Classifier.zeroShot(model: model, classNames: pool.classNames, templates: [config.template ?? pool.template])
        if let s = state {
            guard s.config == config else { throw EngineError(.argument, "the saved experiment was run with another configuration") }
            guard s.pool == pool.name, s.model == model.source else {
                throw EngineError(.argument, "the saved experiment used pool \(s.pool) and model \(s.model)")
            }
            if let saved = s.poolFingerprint, saved != pool.fingerprint {
                throw EngineError(.argument, "the pool \(pool.name) is not the one the experiment was saved with (its samples or splits differ)")
            }
            try s.check(against: pool)
            self.state = s
        } else {
            self.state = ExperimentState(config: config, pool: pool.name, model: model.source)
            self.state.poolFingerprint = pool.fingerprint
        }
        // The experiment's identity in the journal: its configuration, pool content and model, so that a resumed or
        // re-run experiment finds its own answers and any other experiment's count as another's.
        if self.state.journalID == nil {
            var h = FNV64()
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            h.add(String(decoding: (try? encoder.encode(config)) ?? Data(), as: UTF8.self))
            h.add(pool.fingerprint)
            h.add(model.source)
            self.state.journalID = String(String(h.value, radix: 16).prefix(8))
        }
    }

    /// The zero-shot model's accuracy on the test split (what every learning curve starts from).
    public func zeroShotAccuracy() throws -> Double {
        try Evaluation(probabilities: zeroShot.probabilities(testFeatures.values), labels: try pool.evaluationLabels(testFeatures.ids),
                       classes: pool.classes).accuracy
    }

    /// The journal source of this experiment's answers ("experiment 1a2b3c4d").
    public var journalSource: String { "experiment \(state.journalID ?? "?")" }

    public var finished: Bool { state.rounds.count >= state.config.rounds }
    public var budgetPerRound: Int { budget }

    /// A seed for one purpose in one round, derived from the experiment's seed (so a resumed run repeats it).
    func seed(round: Int, purpose: String) -> UInt64 {
        var h = FNV64(); h.add(state.config.seed); h.add(UInt64(round)); h.add(purpose)
        return h.value
    }

    /// The classifier of the current model: zero-shot, or the last round's CoOp context.
    func currentClassifier() throws -> Classifier { try classifier(context: state.context) }

    func classifier(context: [Float]?) throws -> Classifier {
        guard let context else { return zeroShot }
        switch state.config.trainer {
        case let .coop(_, _, _, _, n, phrase, csc):
            let learner = try PromptLearner(model: model, classNames: pool.classNames,
                                            options: PromptOptions(contextLength: n, contextInit: phrase, classSpecific: csc ?? false))
            learner.context = context
            return Classifier(learner: learner)
        case let .imagePrompts(spec):
            return try imageLearner(spec, values: context).classifier()
        case .linearProbe, .none:
            return zeroShot
        }
    }

    /// A VPT or MaPLe learner of the experiment's settings: fresh from `seed`, or holding `values`.
    func imageLearner(_ spec: ImagePromptSpec, values: [Float]? = nil, seed: UInt64 = 0) throws -> ImagePromptLearner {
        let learner: ImagePromptLearner
        switch spec.method {
        case .vpt: learner = try VPTLearner(model: model, classNames: pool.classNames, contextLength: spec.contextLength, depth: spec.depth, seed: seed,
                                            template: state.config.template ?? pool.template)
        case .maple: learner = try MaPLeLearner(model: model, classNames: pool.classNames, contextLength: spec.contextLength, depth: spec.depth,
                                                contextInit: spec.contextInit, seed: seed)
        case .coop: throw EngineError(.argument, "CoOp trains on cached features, not image prompts")
        }
        if let values {
            guard values.count == learner.tensors.values.count else {
                throw EngineError(.format, "the saved prompts hold \(values.count) values; \(spec.method.rawValue) with these settings has \(learner.tensors.values.count)")
            }
            learner.tensors.values = values
        }
        return learner
    }

    /// Image features under the last round's image prompts (VPT, MaPLe); nil before any training or for trainers
    /// that leave the image tower alone.
    private var prompted: (train: PoolFeatures, test: PoolFeatures)?

    /// The image features the current model sees: prompted ones after a VPT/MaPLe round, else the given ones.
    func currentFeatures(progress: ((String) -> Void)? = nil, cancel: CancellationToken? = nil) throws -> (train: PoolFeatures, test: PoolFeatures) {
        if let prompted { return prompted }
        guard case let .imagePrompts(spec) = state.config.trainer, let context = state.context else { return (trainFeatures, testFeatures) }
        // A resumed experiment: encode the pool under its saved prompts once.
        let encoded = try encodePool(try imageLearner(spec, values: context), progress: progress, cancel: cancel)
        prompted = encoded
        return encoded
    }

    private func encodePool(_ learner: ImagePromptLearner, progress: ((String) -> Void)?, cancel: CancellationToken?) throws -> (train: PoolFeatures, test: PoolFeatures) {
        func encode(_ ids: [Int], _ what: String) throws -> PoolFeatures {
            var last = Date.distantPast
            return try PoolFeatures.compute(pool: pool, ids: ids, learner: learner, progress: { done, all in
                if done == all || Date().timeIntervalSince(last) > 0.5 { last = Date(); progress?("encoding \(what) images under the prompts \(done)/\(all)") }
            }, cancel: cancel)
        }
        return (try encode(trainFeatures.ids, "train"), try encode(testFeatures.ids, "test"))
    }

    var probe: LinearProbe?

    /// The next round's selection, before any label is asked: what `step` will query (selection is seeded by
    /// the round, so the two agree), with the context's probabilities for showing guesses.
    public func nextQuery(cancel: CancellationToken? = nil) throws -> (ids: [Int], scores: [Double], probabilities: [[Double]], note: String?) {
        let (context, selection, ids) = try nextSelection(cancel: cancel)
        return (selection.rows.map { ids[$0] }, selection.scores, selection.rows.map { Array(context.probabilityRow($0)) }, selection.note)
    }

    /// The next round's selection with what it was made from (for explanations), and the sample id of every row.
    public func nextSelection(cancel: CancellationToken? = nil) throws -> (context: SelectionContext, selection: Selection, ids: [Int]) {
        guard !finished else { throw EngineError(.argument, "the experiment has finished its \(state.config.rounds) rounds") }
        let (context, selection) = try select(round: state.rounds.count + 1, progress: nil, cancel: cancel)
        return (context, selection, try currentFeatures(progress: nil, cancel: cancel).train.ids)
    }

    func select(round: Int, progress: ((String) -> Void)?, cancel: CancellationToken?) throws -> (SelectionContext, Selection) {
        let classifier = try currentClassifier()
        let trainFeatures = try currentFeatures(progress: progress, cancel: cancel).train
        let ids = trainFeatures.ids
        let rowOf = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        let skipped = Set(state.skipped ?? [])
        let pseudo = state.pseudoLabeled ?? [:]
        let unlabeled = ids.indices.filter { state.labeled[ids[$0]] == nil && !skipped.contains(ids[$0]) && pseudo[ids[$0]] == nil }
        var labeledRows: [Int: Int] = [:]
        for (id, label) in state.labeled { if let r = rowOf[id] { labeledRows[r] = label } }
        progress?("round \(round): selecting \(budget) of \(unlabeled.count) with \(strategy.name)")
        let context: SelectionContext
        if let probe {
            context = try SelectionContext(features: trainFeatures.values, width: trainFeatures.width, unlabeled: unlabeled,
                                           labeled: labeledRows, probabilities: probe.probabilities(trainFeatures.values).map(Double.init),
                                           textFeatures: classifier.textFeatures, scale: Float(exp(Double(classifier.logitScale))))
        } else {
            context = try SelectionContext(features: trainFeatures.values, width: trainFeatures.width, unlabeled: unlabeled,
                                           labeled: labeledRows, classifier: classifier)
        }
        var rng = SeededRandom(seed: seed(round: round, purpose: "select"))
        return (context, try strategy.select(context, budget: budget, rng: &rng, cancel: cancel))
    }

    /// Runs one round. `oracle` answers the queries; `progress` hears what happens.
    @discardableResult
    public func step(oracle: Oracle = SimulatedOracle(), progress: ((String) -> Void)? = nil, cancel: CancellationToken? = nil) throws -> RoundRecord {
        guard !finished else { throw EngineError(.argument, "the experiment has finished its \(state.config.rounds) rounds") }
        let round = state.rounds.count + 1
        var seconds: [String: Double] = [:]
        func timed<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
            let t0 = DispatchTime.now()
            defer { seconds[name] = Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9 }
            return try body()
        }
        // Select.
        let (context, selection) = try timed("select") { try select(round: round, progress: progress, cancel: cancel) }
        let ids = trainFeatures.ids
        let queried = selection.rows.map { ids[$0] }
        let rowOf = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        // Selective querying: the confident picks take the model's label; only the others reach the oracle.
        var selfLabelled: [Int: Int] = [:]
        if state.config.pseudo == .selectiveQuerying {
            for (r, c) in selectivelyQueried(context, rows: selection.rows, rowOf: rowOf) { selfLabelled[ids[r]] = c }
        }
        let asked = queried.filter { selfLabelled[$0] == nil }
        // Label: journaled before the state changes.
        // Labels already journaled (a round interrupted after labelling) are not asked again.
        // Answers are journaled by the pool's content (never shared with another pool of the same name). This
        // experiment's own (a round interrupted after labelling) are taken silently; others' only if allowed, and said.
        var answers: [Int: Int] = [:]
        let poolKey = LabelJournal.key(pool)
        if let journal {
            var reused: [String: Int] = [:]
            for e in try journal.replayEntries(pool: poolKey) where asked.contains(e.id) && e.label < pool.classes {
                if e.source.hasPrefix(journalSource + " ") {
                    answers[e.id] = e.label
                } else if reuseEarlierAnswers {
                    answers[e.id] = e.label
                    reused[e.source.components(separatedBy: " round ").first ?? e.source, default: 0] += 1
                }
            }
            if !reused.isEmpty {
                let total = reused.values.reduce(0, +)
                let origins = reused.sorted { $0.key < $1.key }.map { "\($0.value) from \($0.key)" }.joined(separator: ", ")
                report?("round \(round): reusing \(total) earlier answer\(total == 1 ? "" : "s") for this pool's images (\(origins)); step(reuse: false) asks again")
                try journal.append(asked.compactMap { id in answers[id].map { (id, $0) } }, pool: poolKey, source: "\(journalSource) round \(round) (reused)")
            }
        }
        let missing = asked.filter { answers[$0] == nil }
        if !missing.isEmpty {
            progress?("round \(round): asking for \(missing.count) labels")
            let fresh = try oracle.labels(for: missing, pool: pool)
            try journal?.append(missing.compactMap { id in fresh[id].map { (id, $0) } }, pool: poolKey, source: "\(journalSource) round \(round)")
            answers.merge(fresh) { _, new in new }
        }
        // Train on the labelled set (fresh from zero-shot), then evaluate.
        var next = state
        for (id, label) in answers { next.labeled[id] = label }
        // What the round queried and got no answer for was skipped: recorded, and not asked again.
        let skippedNow = asked.filter { answers[$0] == nil }
        if !skippedNow.isEmpty {
            next.skipped = (next.skipped ?? []) + skippedNow
            report?("round \(round): \(skippedNow.count) of \(asked.count) queried images skipped; the round runs on the \(asked.count - skippedNow.count) answered")
        }
        if !selfLabelled.isEmpty { next.pseudoLabeled = (next.pseudoLabeled ?? [:]).merging(selfLabelled) { _, new in new } }
        // Agreement pseudo-labels: this round's, from the samples left unlabelled.
        var agreed: [Int: Int] = [:]
        if case let .agreement(views, threshold) = state.config.pseudo {
            progress?("round \(round): pseudo-labelling")
            let exclude = Set(selection.rows)
            let found = try timed("pseudo") {
                try agreementPseudoLabels(context, exclude: exclude, views: views, threshold: threshold, round: round, cancel: cancel)
            }
            for (r, c) in found where next.labeled[ids[r]] == nil { agreed[ids[r]] = c }
        }
        // Training set: the oracle's labels, then the pseudo-labels (never overriding an oracle label).
        var pseudoNow = next.pseudoLabeled ?? [:]
        pseudoNow.merge(agreed) { old, _ in old }
        for id in next.labeled.keys { pseudoNow[id] = nil }
        let labeledIDs = (Array(next.labeled.keys) + Array(pseudoNow.keys)).sorted()
        let features = try trainFeatures.rows(for: labeledIDs)
        let labels = labeledIDs.map { next.labeled[$0] ?? pseudoNow[$0]! }
        let oracleLabels = next.labeled.count
        var trainedProbe: LinearProbe? = nil
        var trainedPrompted: (train: PoolFeatures, test: PoolFeatures)? = nil
        try timed("train") {
            switch state.config.trainer {
            case let .coop(epochs, lr, batch, wd, n, phrase, csc):
                progress?("round \(round): training CoOp on \(labels.count) labels")
                let learner = try PromptLearner(model: model, classNames: pool.classNames,
                                                options: PromptOptions(contextLength: n, contextInit: phrase, classSpecific: csc ?? false))
                var options = TrainerOptions()
                options.epochs = epochs; options.learningRate = lr; options.batchSize = batch; options.weightDecay = wd
                options.seed = seed(round: round, purpose: "train")
                try CoOpTrainer.train(learner, on: TrainingSet(features: features, labels: labels), options: options, cancel: cancel) { r in
                    progress?(String(format: "round %d: training CoOp, loss %.4f, epoch %d/%d", round, r.loss, r.epoch, epochs))
                }
                next.context = learner.context
            case let .imagePrompts(spec):
                let name = spec.method == .vpt ? "VPT" : "MaPLe"
                progress?("round \(round): training \(name) on \(labels.count) labels")
                let learner = try imageLearner(spec, seed: seed(round: round, purpose: "init"))
                let views = spec.views > 1 ? spec.views : 0
                let pixels = try pool.pixels(labeledIDs, views: views, seed: seed(round: round, purpose: "views"),
                                             preprocessor: Preprocessor(config: model.config))
                var options = TrainerOptions()
                options.epochs = spec.epochs; options.learningRate = spec.learningRate; options.batchSize = spec.batchSize
                options.weightDecay = spec.weightDecay; options.seed = seed(round: round, purpose: "train")
                try learner.train(on: TrainingImages(pixels: pixels, labels: labels, views: max(1, views)), options: options, cancel: cancel) { r in
                    progress?(String(format: "round %d: training %@, loss %.4f, epoch %d/%d", round, name, r.loss, r.epoch, spec.epochs))
                }
                next.context = learner.tensors.values
                trainedPrompted = try encodePool(learner, progress: progress, cancel: cancel)
            case .linearProbe:
                trainedProbe = try LinearProbe.fitSelectingL2(features: features, labels: labels, classes: pool.classes,
                                                               seed: seed(round: round, purpose: "train"))
            case .none:
                break
            }
        }
        let evaluation = try timed("evaluate") {
            let test = trainedPrompted?.test ?? testFeatures
            let p = try trainedProbe.map { $0.probabilities(test.values) }
                ?? self.classifier(context: next.context).probabilities(test.values)
            return try Evaluation(probabilities: p, labels: try pool.evaluationLabels(testFeatures.ids), classes: pool.classes)
        }
        // Nothing failed: commit the round.
        probe = trainedProbe
        if trainedPrompted != nil { prompted = trainedPrompted }
        state = next
        var record = RoundRecord(
            round: round, labelsUsed: oracleLabels, accuracy: evaluation.accuracy, perClassAccuracy: evaluation.perClassAccuracy,
            expectedCalibrationError: evaluation.expectedCalibrationError, classesCovered: Set(next.labeled.values).count,
            queried: queried, scores: selection.scores.map { $0.isFinite ? $0 : nil }, note: selection.note,
            seconds: seconds, seed: seed(round: round, purpose: "select"))
        if state.config.pseudo != nil {
            record.pseudoLabels = pseudoNow.count
            record.pseudoCorrect = pseudoNow.filter { pool.sample($0.key)?.label == $0.value }.count   // the record only: not the oracle
            record.labelsSaved = selfLabelled.count
        }
        state.rounds.append(record)
        if let statePath { try save(to: statePath) }
        progress?(String(format: "round %d: %d labels, accuracy %.2f%%", round, oracleLabels, 100 * evaluation.accuracy)
                  + (pseudoNow.isEmpty ? "" : ", \(pseudoNow.count) pseudo-labels"))
        return record
    }

    /// Runs the remaining rounds.
    /// Skipped ids become candidates again (all of them, or the given ones): the user asks to see them again.
    /// Returns the ids returned to the pool.
    @discardableResult
    public func unskip(_ ids: [Int]? = nil) -> [Int] {
        let skipped = state.skipped ?? []
        let back = ids.map { wanted in skipped.filter { Set(wanted).contains($0) } } ?? skipped
        state.skipped = skipped.filter { !back.contains($0) }
        return back
    }

    public func finish(oracle: Oracle = SimulatedOracle(), progress: ((String) -> Void)? = nil, cancel: CancellationToken? = nil) throws {
        while !finished {
            if cancel?.isCancelled == true { throw EngineError(.cancelled, "experiment cancelled after round \(state.rounds.count)") }
            try step(oracle: oracle, progress: progress, cancel: cancel)
        }
    }

    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try encoder.encode(state), to: path)
    }

    public static func loadState(from path: String) throws -> ExperimentState {
        let data = try readInputFile((path as NSString).expandingTildeInPath, what: "experiment file")
        do { return try JSONDecoder().decode(ExperimentState.self, from: data) } catch {
            throw EngineError(.format, "not an alvlm experiment file: \(error)", path: path)
        }
    }

    /// Resuming a linear-probe experiment refits the last round's probe (deterministic from its seed).
    public func restoreProbe() throws {
        guard case .linearProbe = state.config.trainer, let last = state.rounds.last else { return }
        let ids = state.labeled.keys.sorted()
        probe = try LinearProbe.fitSelectingL2(features: try trainFeatures.rows(for: ids), labels: ids.map { state.labeled[$0]! },
                                               classes: pool.classes, seed: seed(round: last.round, purpose: "train"))
    }
}
