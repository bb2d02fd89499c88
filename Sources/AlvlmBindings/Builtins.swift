import AlvlmActive
import AlvlmEngine
import AlvlmLanguage
import AlvlmWorld
import Foundation

/// The engine exposed to the language: every builtin and member, registered once with its signature and help.
public enum Bindings {
    public static func engineCall<T>(_ body: () throws -> T) throws -> T { try engine(body) }

    /// Wraps engine errors as language errors (the call site adds the location).
    static func engine<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as EngineError {
            throw LanguageError(e.kind == .cancelled ? .interrupted : .engine, e.kind == .cancelled ? "interrupted" : e.description)
        }
    }

    /// The comparison's name for the strategy the user typed: as written, or the same ignoring case with `_` and
    /// `-` alike (`least_confidence` finds `least-confidence`); otherwise an error listing the names it has.
    static func strategyName(_ args: Arguments, _ parameter: String = "strategy", in c: Comparison) throws -> String {
        let typed = args.string(parameter)
        if c.strategies.contains(typed) { return typed }
        func key(_ s: String) -> String { s.lowercased().replacingOccurrences(of: "_", with: "-") }
        if let match = c.strategies.first(where: { key($0) == key(typed) }) { return match }
        let hint = closestMatch(key(typed), in: c.strategies).map { "; did you mean \"\($0)\"?" } ?? ""
        throw args.error(parameter, "no strategy \"\(typed)\" in this comparison, which has \(c.strategies.map { "\"\($0)\"" }.joined(separator: ", "))\(hint)")
    }

    static func budget(_ v: Value) -> Budget {
        switch v {
        case .percent(let p): return .percent(p)
        case .number(let n): return .count(Int(n))
        default: return .percent(1)
        }
    }

    static let strategyParameter = Parameter("strategy", .instance(StrategyObject.self), "an active-learning strategy, e.g. cec()")
    static let poolParameter = Parameter("pool", .instance(PoolObject.self), "a pool, e.g. dtd(\"~/data\")")
    static let modelParameter = Parameter("model", .instance(ModelObject.self), "a CLIP model, e.g. clip(\"~/models/clip-vit-base-patch16\")")

    public static func register(into r: Registry) {
        registerModelsAndPools(r)
        registerStrategies(r)
        registerExperiments(r)
        registerSweeps(r)
        r.register(PlacementObject.self, summary: "where a comparison's runs go (local(...) or slurm(...))", [])
    }

    // MARK: models and pools

    static func registerModelsAndPools(_ r: Registry) {
        r.group = .models
        r.register(Builtin("clip", [Parameter("source", .string, "\"tiny\", a model folder (Hugging Face or open_clip), or random:ARCH[:SEED]"),
                                    Parameter("precision", .choice(ImagePrecision.allCases.map(\.rawValue)), default: .string(ImagePrecision.float32.rawValue),
                                              "image encoding: float32, or bfloat16 (several times faster with AMX; float32 where the CPU has neither AMX nor AVX512-BF16)")],
                           summary: "load a CLIP model",
                           details: "\"tiny\" is the embedded CLIP pretrained on the texture world (see textures()).\n" +
                               "Hugging Face CLIPModel folders (config.json + model.safetensors + tokenizer files) or open_clip folders.\n" +
                               "random:vit-b-16 (or vit-b-32, vit-l-14, tiny-test) builds random weights for trying things out.\n" +
                               "precision: \"bfloat16\" rounds the image tower's matrix inputs to bfloat16 (embeddings at cosine >= 0.999 to float32's;\n" +
                               "cached features are kept apart); training (CoOp, VPT, MaPLe, probes) always runs in float32.") { args, interp in
            let source = args.string("source")
            let model = try engine { try ModelSource.load(source) }
            model.imagePrecision = ImagePrecision(rawValue: args.string("precision")) ?? .float32
            if model.effectiveImagePrecision != model.imagePrecision {
                interp.host.print("note: this CPU has neither AMX nor AVX512-BF16; images are encoded in float32")
            }
            let cache = try? FeatureCache(directory: interp.settings.featuresDirectory)
            cache?.onWriteFailure = { [weak interp] error in
                interp?.host.print("warning: the feature cache cannot be written, features are computed but not kept: \(error.description)")
            }
            let object = ModelObject(model, cache: cache, recommended: ModelSource.recommendation(for: model))
            object.source = (source as NSString).expandingTildeInPath
            return .object(object)
        })
        r.group = .pools
        r.register(Builtin("coop_dataset", [Parameter("name", .choice(DatasetLoader.CoOpDataset.allCases.map(\.rawValue)), "the dataset"),
                                            Parameter("root", .string, "the data root holding CoOp's folders")],
                           summary: "load one of the paper's datasets in CoOp's layout") { args, _ in
            let ds = DatasetLoader.CoOpDataset(rawValue: args.string("name"))!
            return .object(PoolObject(try engine { try DatasetLoader.coop(ds, root: args.string("root")) }))
        })
        for (name, ds) in [("dtd", DatasetLoader.CoOpDataset.dtd), ("caltech101", .caltech101), ("eurosat", .eurosat),
                           ("aircraft", .fgvcAircraft), ("flowers", .oxfordFlowers), ("ucf101", .ucf101)] {
            r.register(Builtin(name, [Parameter("root", .string, "the data root (or the dataset's own folder)")],
                               summary: "load \(ds.rawValue) from CoOp's layout (split_zhou_*.json)") { args, _ in
                .object(PoolObject(try engine { try DatasetLoader.coop(ds, root: args.string("root")) }))
            })
        }
        r.register(Builtin("folder", [Parameter("root", .string, "ROOT/<class>/<image> folders"),
                                      Parameter("split", .oneOf([.list, .nilValue]), default: .null, "fractions [train, val, test], e.g. [0.6, 0.2, 0.2]"),
                                      Parameter("seed", .integer, default: .number(0))],
                           summary: "a pool from a folder per class") { args, _ in
            var fractions: (Double, Double, Double)? = nil
            if case .list(let items) = args["split"] {
                let f = items.compactMap { if case .number(let v) = $0 { return v }; return nil }
                guard f.count == 3 else { throw args.error("split", "split needs three fractions [train, val, test]") }
                fractions = (f[0], f[1], f[2])
            }
            return .object(PoolObject(try engine { try DatasetLoader.folder(args.string("root"), fractions: fractions, seed: UInt64(bitPattern: Int64(args.int("seed")))) }))
        })
        r.register(Builtin("textures", [Parameter("seed", .integer, default: .number(0), "the world's seed"),
                                        Parameter("train", .integer, default: .number(2400), "images in the training pool"),
                                        Parameter("val", .integer, default: .number(400), "validation images"),
                                        Parameter("test_per_class", .integer, default: .number(50), "test images per class (the test split is balanced)"),
                                        Parameter("imbalance", .number, default: .number(10), "most / least frequent class in the training pool"),
                                        Parameter("dir", .oneOf([.string, .nilValue]), default: .null, "where the images are written (default: a cache folder)")],
                           summary: "the embedded texture world: a generated pool of 20 DTD-named texture classes",
                           details: "Images are 64x64 PNGs from the world's target distribution (palettes, scales, noise, blur and occlusion shifted\n" +
                               "from what clip(\"tiny\") was pretrained on), written on first use and reused after. The training pool is\n" +
                               "long-tailed; val follows it; test is balanced. Deterministic per seed.") { args, interp in
            var world = TextureWorld(seed: UInt64(bitPattern: Int64(args.int("seed"))))
            world.trainSize = args.int("train"); world.valSize = args.int("val"); world.testPerClass = args.int("test_per_class")
            world.imbalance = args.number("imbalance")
            let dir = args.has("dir") ? args.string("dir") : nil
            var last = Date.distantPast
            return .object(PoolObject(try engine {
                try world.pool(directory: dir.map { ($0 as NSString).expandingTildeInPath } ?? world.cacheDirectory(in: interp.settings.poolsDirectory), progress: { done, total in
                    if done == total || Date().timeIntervalSince(last) > 0.5 { last = Date(); interp.host.progress("generating texture images \(done)/\(total)") }
                }, cancel: WatchingToken(host: interp.host))
            }))
        })
        r.register(Builtin("csv", [Parameter("path", .string, "a CSV file of path,label[,split]")], summary: "a pool from a CSV list") { args, _ in
            .object(PoolObject(try engine { try DatasetLoader.csv(args.string("path")) }))
        })
        r.register(PoolObject.self, summary: "images with stable ids, class names and splits", [
            .property("train", "the training split (the unlabelled pool)") { .object(SplitObject($0, .train)) },
            .property("val", "the validation split") { .object(SplitObject($0, .val)) },
            .property("test", "the test split") { .object(SplitObject($0, .test)) },
            .property("classes", "the class names") { .list($0.pool.classNames.map { .string($0) }) },
            .property("size", "number of images") { .number(Double($0.pool.samples.count)) },
            .property("name", "the pool's name") { .string($0.pool.name) },
        ])
        r.register(SplitObject.self, summary: "one split of a pool", [
            .property("size", "number of images") { s in .number(Double(s.pool.pool.ids(s.split).count)) },
            .property("ids", "the sample ids") { s in .list(s.pool.pool.ids(s.split).map { .number(Double($0)) }) },
            .property("labels", "the class name of each sample, in the order of ids (val and test; the training pool's come from an oracle)") { s in
                guard s.split != .train else {
                    throw LanguageError(.runtime, "the training pool's labels come only from an oracle (step(), label(), import()); pool.test.labels and pool.val.labels are open")
                }
                let labels = try engine { try s.pool.pool.evaluationLabels(s.pool.pool.ids(s.split)) }
                return .list(labels.map { .string(s.pool.pool.classNames[$0]) })
            },
            .property("paths", "the image file of each sample, in the order of ids") { s in
                return .list(s.pool.pool.ids(s.split).map { .string(s.pool.pool.sample($0)?.path ?? "") })
            },
        ])
        r.register(ModelObject.self, summary: "a CLIP model", [
            .method("zeroshot", [Parameter("split", .instance(SplitObject.self), "e.g. pool.test"),
                                 Parameter("template", .oneOf([.string, .nilValue]), default: .null, "prompt template, {} is the class name (default: the pool's, e.g. \"a photo of a {}.\")"),
                                 Parameter("oracle", .choice(["none", "simulated"]), default: .string("none"),
                                           "simulated: the training pool may be evaluated with the simulated oracle's labels (simulations only)")],
                    "zero-shot accuracy, per-class table and calibration on a split") { model, args, interp in
                let split = args.object("split", as: SplitObject.self)!
                let simulated = args.string("oracle") == "simulated"
                guard split.split != .train || simulated else {
                    throw args.error("split", "the training pool's labels come only from an oracle: evaluate on pool.test or pool.val (or, in a simulation, pass oracle: \"simulated\")")
                }
                let f = try engine { try split.pool.features(split.split, model: model, host: interp.host) }
                return try engine {
                    let classifier = try Classifier.zeroShot(model: model.model, classNames: split.pool.pool.classNames, templates: [args.has("template") ? args.string("template") : split.pool.pool.template])
                    let e = try Evaluation(probabilities: try classifier.probabilities(f.values),
                                           labels: split.split == .train ? try SimulatedOracle().labels(for: f.ids, pool: split.pool.pool).sortedValues(f.ids)
                                                                         : try split.pool.pool.evaluationLabels(f.ids),
                                           classes: split.pool.pool.classes)
                    return .object(EvaluationObject(e, classNames: split.pool.pool.classNames, title: "zero-shot on \(split.pool.pool.name) \(split.split.rawValue)"))
                }
            },
        ])
        r.register(EvaluationObject.self, summary: "accuracy, per-class accuracy and calibration", [
            .property("accuracy", "fraction correct") { .number($0.evaluation.accuracy) },
            .property("ece", "expected calibration error (15 bins)") { .number($0.evaluation.expectedCalibrationError) },
            .property("per_class", "accuracy per class (nil for absent classes)") {
                .list($0.evaluation.perClassAccuracy.map { $0.map { .number($0) } ?? .null })
            },
            .property("predicted", "how often each class is predicted") { .list($0.evaluation.predictedHistogram.map { .number(Double($0)) }) },
            .property("actual", "how often each class truly occurs") { .list($0.evaluation.trueHistogram.map { .number(Double($0)) }) },
            .property("skew", "the largest ratio of predicted to true count over the classes present (1 = unbiased)") {
                .number($0.evaluation.predictionSkew)
            },
        ])
    }

    // MARK: trainers, experiments, comparisons

    static func registerExperiments(_ r: Registry) {
        r.group = .trainers
        r.register(Builtin("coop", [
            Parameter("epochs", .integer, default: .number(200)), Parameter("lr", .number, default: .number(0.002)),
            Parameter("batch", .integer, default: .number(32)), Parameter("weight_decay", .number, default: .number(0.005)),
            Parameter("n_ctx", .integer, default: .number(4)), Parameter("init", .oneOf([.string, .nilValue]), default: .string("a photo of a")),
            Parameter("csc", .bool, default: .bool(false), "class-specific contexts (CoOp's CSC) instead of one shared context"),
        ], summary: "trainer: CoOp prompt tuning, re-initialised every round",
           details: "The arguments given override only themselves, on top of the model's recommended CoOp settings (the paper's\n" +
               "ViT-B/16 settings shown as defaults here; clip(\"tiny\") recommends its own tuned ones: 20 epochs, lr 0.02, csc).") { args, _ in
            if args.given("epochs") { guard args.int("epochs") >= 1 else { throw args.error("epochs", "epochs must be at least 1") } }
            if args.given("batch") { guard args.int("batch") >= 1 else { throw args.error("batch", "batch must be at least 1") } }
            if args.given("lr") { guard args.number("lr") > 0 else { throw args.error("lr", "lr must be positive") } }
            if args.given("n_ctx") { guard args.int("n_ctx") >= 1, args.int("n_ctx") <= 72 else { throw args.error("n_ctx", "n_ctx must be in 1...72") } }
            var o = CoOpOverrides()
            if args.given("epochs") { o.epochs = args.int("epochs") }
            if args.given("lr") { o.learningRate = args.number("lr") }
            if args.given("batch") { o.batchSize = args.int("batch") }
            if args.given("weight_decay") { o.weightDecay = args.number("weight_decay") }
            if args.given("n_ctx") { o.contextLength = args.int("n_ctx") }
            if args.given("init") { o.contextInit = .some(args.has("init") ? args.string("init") : nil) }
            if args.given("csc") { o.classSpecific = args.bool("csc") }
            // Checked now against the paper's settings, and again against the model's when the trainer is used.
            _ = try o.applied(to: .paper, args)
            return .object(TrainerObject(coop: o))
        })
        for method in [PromptMethod.vpt, .maple] {
            let official = ImagePromptSpec(method)
            var parameters = [
                Parameter("recipe", .oneOf([.choice(PromptRecipe.allCases.map(\.rawValue)), .nilValue]), default: .null,
                          "official: the method's code (5 epochs, batch 4, wd 5e-4); coop: the paper's CoOp recipe (200 epochs, batch 32, lr 0.002, wd 0.005)"),
                Parameter("epochs", .integer, default: .number(Double(official.epochs))), Parameter("lr", .number, default: .number(official.learningRate)),
                Parameter("batch", .integer, default: .number(Double(official.batchSize))),
                Parameter("weight_decay", .number, default: .number(official.weightDecay)),
                Parameter("n_ctx", .integer, default: .number(Double(official.contextLength)), "prompt tokens per layer"),
                Parameter("depth", .integer, default: .number(Double(official.depth)), "prompted layers 0..depth-1 (cut to the model's layers)"),
                Parameter("views", .integer, default: .number(1), "views per labelled image: 1 the centre crop; more: random crops and flips, one per epoch"),
            ]
            if method == .maple {
                parameters.append(Parameter("init", .oneOf([.string, .nilValue]), default: .string("a photo of a"),
                                            "the prompt before the class name; its first n_ctx tokens are learned (nil: random)"))
            }
            let summary = method == .vpt
                ? "trainer: VPT-deep visual prompts (the paper's Table 2), re-initialised every round"
                : "trainer: MaPLe text and coupled image prompts (the paper's Table 2), re-initialised every round"
            r.register(Builtin(method.rawValue, parameters, summary: summary,
                               details: "The arguments given override only themselves, on top of the model's recommended settings (the official recipe\n" +
                                   "shown as defaults here; clip(\"tiny\") recommends its own tuned ones). recipe: replaces the recommended settings.\n" +
                                   "Prompts change the image tower, so the pool is encoded again after every round's training.") { args, _ in
                var o = ImagePromptOverrides(method: method)
                if args.has("recipe") { o.recipe = PromptRecipe(rawValue: args.string("recipe")) }
                for name in ["epochs", "batch", "n_ctx", "depth", "views"] where args.given(name) {
                    guard args.int(name) >= (name == "n_ctx" ? 0 : 1) else { throw args.error(name, "\(name) must be at least \(name == "n_ctx" ? 0 : 1)") }
                }
                if args.given("lr") { guard args.number("lr") > 0 else { throw args.error("lr", "lr must be positive") } }
                if args.given("weight_decay") { guard args.number("weight_decay") >= 0 else { throw args.error("weight_decay", "weight_decay must not be negative") } }
                if args.given("epochs") { o.epochs = args.int("epochs") }
                if args.given("lr") { o.learningRate = args.number("lr") }
                if args.given("batch") { o.batchSize = args.int("batch") }
                if args.given("weight_decay") { o.weightDecay = args.number("weight_decay") }
                if args.given("n_ctx") { o.contextLength = args.int("n_ctx") }
                if args.given("depth") { o.depth = args.int("depth") }
                if args.given("views") { o.views = args.int("views") }
                if method == .maple, args.given("init") { o.contextInit = .some(args.has("init") ? args.string("init") : nil) }
                return .object(TrainerObject(prompts: o))
            })
        }
        r.register(Builtin("sq", [], summary: "pseudo-labelling: CB+SQ's selective querying (Kim et al., TMLR 2025)",
                           details: "A queried sample whose confidence reaches its predicted class's threshold (the mean confidence of the labelled\n" +
                               "samples of that class) takes its predicted class instead of an oracle label; experiment(..., pseudo: sq()).") { _, _ in
            .object(PseudoObject(.selectiveQuerying))
        })
        r.register(Builtin("agreement", [Parameter("views", .integer, default: .number(2), "augmented views that must agree"),
                                         Parameter("threshold", .number, default: .number(0.9), "the confidence a pseudo-label needs")],
                           summary: "pseudo-labelling: confident samples whose prediction holds on augmented views (PSP-style, ICLR 2026)",
                           details: "Each round, unlabelled samples at least `threshold` confident whose predicted class is the same on `views`\n" +
                               "random-resized-crop-and-flip views join the training with it; experiment(..., pseudo: agreement()).") { args, _ in
            guard (1...16).contains(args.int("views")) else { throw args.error("views", "views must be in 1...16") }
            guard args.number("threshold") > 0, args.number("threshold") <= 1 else { throw args.error("threshold", "threshold must be in (0, 1]") }
            return .object(PseudoObject(.agreement(views: args.int("views"), threshold: args.number("threshold"))))
        })
        r.register(Builtin("linear_probe", [], summary: "trainer: logistic regression on image features") { _, _ in .object(TrainerObject(.linearProbe)) })
        r.register(Builtin("zeroshot_only", [], summary: "trainer: none, the zero-shot model throughout") { _, _ in .object(TrainerObject(TrainerSpec.none)) })

        let experimentParameters = [
            Parameter("rounds", .integer, default: .number(6)), Parameter("budget", .countOrPercent, default: .percent(1), "per round"),
            Parameter("trainer", .instance(TrainerObject.self), default: .null, "default: coop() with the paper's settings (clip(\"tiny\"): its tuned CoOp settings)"),
            Parameter("pseudo", .oneOf([.instance(PseudoObject.self), .nilValue]), default: .null,
                      "labels for free: sq() (selective querying) or agreement(views:, threshold:); each round records how many, how right, labels saved"),
            Parameter("protocol", .choice(BudgetProtocol.allCases.map(\.rawValue)), default: .string(BudgetProtocol.cec.rawValue),
                      "cec: the budget per round as given (the paper's 1%); pcb: one label per class per round for 8 rounds (PCB's protocol); rounds and budget given explicitly win"),
        ]
        /// Rounds and budget: the protocol's, with what was given explicitly on top.
        func schedule(_ args: Arguments, pool: PoolObject) -> (rounds: Int, budget: Budget) {
            let protocolName = BudgetProtocol(rawValue: args.string("protocol")) ?? .cec
            let planned = protocolName.schedule(classes: pool.pool.classes)
            return (args.given("rounds") ? args.int("rounds") : planned?.rounds ?? args.int("rounds"),
                    args.given("budget") ? budget(args["budget"]) : planned?.budget ?? budget(args["budget"]))
        }
        /// The trainer given, else the model's recommended one: the tiny CLIP's tuned CoOp, or the paper's.
        /// The trainer an experiment uses: the model's recommended one, with what `coop(...)` was given on top, or
        /// the trainer given.
        func trainer(_ args: Arguments) throws -> TrainerSpec {
            let model = args.object("model", as: ModelObject.self)
            let recommended = model?.recommended ?? .paper
            guard let given = args.object("trainer", as: TrainerObject.self) else { return recommended.coop }
            return try given.resolved(recommended, args)
        }
        func features(_ args: Arguments, _ interp: Interpreter) throws -> (PoolObject, ModelObject, PoolFeatures, PoolFeatures) {
            let pool = args.object("pool", as: PoolObject.self)!, model = args.object("model", as: ModelObject.self)!
            return (pool, model, try engine { try pool.features(.train, model: model, host: interp.host) },
                    try engine { try pool.features(.test, model: model, host: interp.host) })
        }
        r.group = .experiments
        r.register(Builtin("experiment", [poolParameter, modelParameter, strategyParameter] + experimentParameters +
                           [Parameter("seed", .integer, default: .number(1)),
                            Parameter("save", .oneOf([.string, .nilValue]), default: .null, "a file the state is written to (atomically) after every round")],
                           summary: "an active-learning run: rounds of select, label, train, evaluate", returns: "experiment") { args, interp in
            let (pool, model, train, test) = try features(args, interp)
            let plan = schedule(args, pool: pool)
            var config = ExperimentConfig(strategy: args.object("strategy", as: StrategyObject.self)!.spec, rounds: plan.rounds,
                                          budget: plan.budget, trainer: try trainer(args), seed: UInt64(bitPattern: Int64(args.int("seed"))))
            config.pseudo = args.object("pseudo", as: PseudoObject.self)?.setting
            let e = try engine { try Experiment(pool: pool.pool, model: model.model, trainFeatures: train, testFeatures: test, config: config) }
            if args.has("save") { e.statePath = (args.string("save") as NSString).expandingTildeInPath }
            return .object(ExperimentObject(e, pool: pool, model: model))
        })
        r.register(ExperimentObject.self, summary: "an active-learning run", [
            .method("query", [], "the next round's query batch, before any label is asked (what step() will query): for export") { e, _, interp in
                let (context, selection, ids) = try engine { try e.experiment.nextSelection(cancel: WatchingToken(host: interp.host)) }
                let q = QueryObject(pool: e.poolObject, strategy: e.experiment.state.config.strategy.label, ids: selection.rows.map { ids[$0] },
                                    scores: selection.scores, probabilities: selection.rows.map { Array(context.probabilityRow($0)) }, note: selection.note)
                q.source = (e.experiment.state.config.strategy, context, selection, ids)
                return .object(q)
            },
            .method("step", [Parameter("oracle", .choice(["simulated", "human"]), default: .string("simulated"),
                                       "simulated: the pool's ground truth; human: you label the queries in the terminal"),
                              Parameter("answers", .oneOf([.list, .nilValue]), default: .null, "answers imported with import(): they label this round's queries"),
                              Parameter("journal", .oneOf([.string, .nilValue]), default: .null, "where the answers are journaled before they are used (human labels: by default the cache's labels.journal; other oracles: only when named)"),
                              Parameter("reuse", .bool, default: .bool(true), "take answers journaled earlier for the same images of this pool (label(), other experiments), and say so; false asks again")],
                    "run one round") { e, args, interp in
                var oracle: Oracle = SimulatedOracle()
                if case .list(let items) = args["answers"] {
                    var answers: [Int: Int] = [:]
                    var skipped: Set<Int> = []
                    for item in items {
                        guard case .record(let fields) = item, let id = fields.first(where: { $0.0 == "id" })?.1,
                              let label = fields.first(where: { $0.0 == "label" })?.1, case .number(let n) = id,
                              let sampleID = Int(exactly: n) else {
                            throw args.error("answers", "answers must be records {id, label} as import() returns them (integer ids, class names; label nil for a skip)")
                        }
                        if label.isNone { skipped.insert(sampleID); continue }
                        guard case .string(let name) = label, let index = e.poolObject.pool.classNames.firstIndex(of: name) else {
                            throw args.error("answers", "answers must be records {id, label} as import() returns them (integer ids, class names; label nil for a skip)")
                        }
                        answers[sampleID] = index
                    }
                    oracle = AnswerSheetOracle(answers: answers, skipped: skipped)
                } else if args.string("oracle") == "human" {
                    guard let labeller = interp.labeller else {
                        throw args.error("oracle", "oracle: \"human\" needs a person at an interactive terminal (the REPL or a Jupyter notebook); use export/import for files (export(run.query(), \"batch.csv\"), then run.step(answers: import(\"answers.csv\", pool)))")
                    }
                    oracle = HumanOracle(ask: labeller)
                    let path = args.has("journal") ? (args.string("journal") as NSString).expandingTildeInPath : interp.settings.journal
                    e.experiment.journal = try engine {
                        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                        return try LabelJournal(path: path)
                    }
                } else if args.has("journal") {
                    // Any oracle's answers are journaled when a journal is named: imported answer sheets and the
                    // simulation alike survive a crash the same way.
                    let path = (args.string("journal") as NSString).expandingTildeInPath
                    e.experiment.journal = try engine {
                        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                        return try LabelJournal(path: path)
                    }
                }
                e.experiment.reuseEarlierAnswers = args.bool("reuse")
                e.experiment.report = { interp.host.print($0) }
                _ = try engine { try e.experiment.step(oracle: oracle, progress: { interp.host.progress($0) }, cancel: WatchingToken(host: interp.host)) }
                return .object(e)
            },
            .method("finish", [], "run the remaining rounds") { e, _, interp in
                try engine { try e.experiment.finish(progress: { interp.host.progress($0) }, cancel: WatchingToken(host: interp.host)) }
                return .object(e)
            },
            .property("accuracy", "accuracy after each finished round") { .list($0.experiment.state.rounds.map { .number($0.accuracy) }) },
            .property("labels", "labels used after each finished round") { .list($0.experiment.state.rounds.map { .number(Double($0.labelsUsed)) }) },
            .property("pseudo", "with pseudo-labelling: per round, the pseudo-labels trained on, how many were right, and the labels saved") { e in
                .list(e.experiment.state.rounds.map { r in
                    .record([("used", .number(Double(r.pseudoLabels ?? 0))), ("correct", .number(Double(r.pseudoCorrect ?? 0))),
                             ("accuracy", r.pseudoLabels.map { $0 > 0 ? .number(Double(r.pseudoCorrect ?? 0) / Double($0)) : .null } ?? .null),
                             ("saved", .number(Double(r.labelsSaved ?? 0)))])
                })
            },
            .property("covered", "classes with at least one label after each finished round") { .list($0.experiment.state.rounds.map { .number(Double($0.classesCovered)) }) },
            .property("skipped", "the ids skipped by annotators so far (never queried again unless unskip() returns them)") {
                .list(($0.experiment.state.skipped ?? []).map { .number(Double($0)) })
            },
            .method("unskip", [Parameter("ids", .oneOf([.list, .nilValue]), default: .null, "the skipped ids to ask about again (default: all)")],
                    "return skipped images to the unlabelled pool, so later rounds may ask about them again") { e, args, interp in
                let ids: [Int]? = try args.has("ids") ? args.numbers("ids").map { Int($0) } : nil
                let back = e.experiment.unskip(ids)
                interp.host.print(back.isEmpty ? "no skipped images to return" : "\(back.count) skipped image\(back.count == 1 ? "" : "s") back in the unlabelled pool: later rounds may ask again")
                return .null
            },
            .property("strategy", "the strategy's name") { .string($0.experiment.state.config.strategy.label) },
            .property("rounds", "the round records: round, labels, accuracy, per_class (by class name), ece, covered, queried, note (e.g. a fallback to random)") { e in
                let names = e.poolObject.pool.classNames
                return .list(e.experiment.state.rounds.map { r in
                    .record([("round", .number(Double(r.round))), ("labels", .number(Double(r.labelsUsed))), ("accuracy", .number(r.accuracy)),
                             ("per_class", .record(zip(names, r.perClassAccuracy).map { ($0, $1.map { .number($0) } ?? .null) })),
                             ("ece", .number(r.expectedCalibrationError)), ("covered", .number(Double(r.classesCovered))),
                             ("queried", .list(r.queried.map { .number(Double($0)) })), ("note", r.note.map { .string($0) } ?? .null)])
                })
            },
        ])
        r.register(Builtin("compare", [Parameter("strategies", .list, "a list of strategies"), poolParameter, modelParameter] + experimentParameters +
                           [Parameter("seeds", .integer, default: .number(3)), Parameter("seed", .integer, default: .number(0), "the master seed"),
                            Parameter("on", .oneOf([.instance(PlacementObject.self), .nilValue]), default: .null,
                                      "local(workers: N), slurm(...) or planned(): the runs as a sweep's tasks elsewhere (nil: here, one after the other)"),
                            Parameter("sweep", .oneOf([.string, .nilValue]), default: .null,
                                      "with on: the sweep folder (plan, results, logs), on a filesystem every worker sees")],
                           summary: "several strategies x seeds: mean ± sd per round, AULC, paired differences", returns: "comparison") { args, interp in
            guard case .list(let items) = args["strategies"], !items.isEmpty else { throw args.error("strategies", "give a non-empty list of strategies") }
            let specs = try items.map { v -> StrategySpec in
                guard case .object(let o) = v, let s = o as? StrategyObject else { throw args.error("strategies", "every item must be a strategy, e.g. cec()") }
                return s.spec
            }
            guard args.int("seeds") >= 1, args.int("seeds") <= 1000 else { throw args.error("seeds", "seeds must be in 1...1000") }
            if args.has("on") {
                let plan = schedule(args, pool: args.object("pool", as: PoolObject.self)!)
                return try sweepCompare(args, interp, strategies: specs, rounds: plan.rounds, budget: plan.budget, trainer: try trainer(args),
                                        pseudo: args.object("pseudo", as: PseudoObject.self)?.setting)
            }
            let (pool, model, train, test) = try features(args, interp)
            let plan = schedule(args, pool: pool)
            let c = try engine {
                try Comparison.run(pool: pool.pool, model: model.model, trainFeatures: train, testFeatures: test, strategies: specs,
                                   seeds: args.int("seeds"), masterSeed: UInt64(bitPattern: Int64(args.int("seed"))), rounds: plan.rounds,
                                   budget: plan.budget, trainer: try trainer(args),
                                   pseudo: args.object("pseudo", as: PseudoObject.self)?.setting,
                                   progress: { interp.host.progress($0) }, cancel: WatchingToken(host: interp.host))
            }
            // Interrupted with runs finished: they are returned as a partial comparison (the interrupt still stops
            // whatever statement comes next).
            if let note = c.partialNote { interp.host.print("interrupted: the comparison keeps its finished runs (\(note))") }
            return .object(ComparisonObject(c))
        })
        r.register(ComparisonObject.self, summary: "strategies compared over seeds", [
            .property("zeroshot", "the zero-shot model's test accuracy, where every curve starts from (nil if unknown)") {
                $0.comparison.zeroShotAccuracy.map { .number($0) } ?? .null
            },
            .property("partial", "whether the comparison was interrupted and holds only the runs it finished") {
                .bool($0.comparison.isPartial)
            },
            .property("strategies", "the strategies' names") { .list($0.comparison.strategies.map { .string($0) }) },
            .method("mean", [Parameter("strategy", .string)], "mean accuracy per round over the seeds") { o, args, _ in
                let c = o.comparison
                return .list(c.curve(try strategyName(args, in: c)).mean.map { .number($0) })
            },
            .method("sd", [Parameter("strategy", .string)], "standard deviation of the accuracy per round over the seeds") { o, args, _ in
                let c = o.comparison
                return .list(c.curve(try strategyName(args, in: c)).sd.map { .number($0) })
            },
            .method("paired", [Parameter("strategy", .string), Parameter("baseline", .string, default: .string("random"))],
                    "per round: the mean and sd over seeds of (strategy - baseline) accuracy, runs paired by seed") { o, args, _ in
                let c = o.comparison
                let (a, b) = (try strategyName(args, in: c), try strategyName(args, "baseline", in: c))
                guard let d = c.pairedDifference(a, baseline: b) else { return .null }
                return .record([("mean", .list(d.mean.map { .number($0) })), ("sd", .list(d.sd.map { .number($0) })), ("seeds", .number(Double(c.seeds.count)))])
            },
            .method("auc", [Parameter("strategy", .string)], "area under the mean learning curve (a mean accuracy)") { o, args, _ in
                let c = o.comparison
                return .number(c.areaUnderCurve(try strategyName(args, in: c)))
            },
            .method("labels_to_reach", [Parameter("target", .oneOf([.number, .countOrPercent]), "an accuracy, e.g. 60% or 0.6"), Parameter("strategy", .string)],
                    "mean labels at the first round whose mean accuracy reaches the target (nil if never)") { o, args, _ in
                let c = o.comparison
                let target: Double = { if case .percent(let p) = args["target"] { return p / 100 }; return args.number("target") }()
                guard target <= 1 else {
                    throw args.error("target", "an accuracy of \(formatNumber(target)) is more than 1 (all): write \(formatNumber(target))% for a percentage")
                }
                return c.labelsToReach(target, strategy: try strategyName(args, in: c)).map { .number($0) } ?? .null
            },
        ])
        r.register(Builtin("table", [Parameter("comparison", .instance(ComparisonObject.self))],
                           summary: "show the paper's Table 1 layout: mean ± sd per round (shown wherever it is called, in loops too)") { args, interp in
            let c = args.object("comparison", as: ComparisonObject.self)!.comparison
            interp.host.display(.object(TableObject(text: c.table(), markdown: c.markdownTable())))
            return .null
        })
        r.group = .files
        r.register(Builtin("save", [Parameter("experiment", .instance(ExperimentObject.self)), Parameter("path", .string)],
                           summary: "save an experiment's state (resume with load)") { args, interp in
            let e = args.object("experiment", as: ExperimentObject.self)!.experiment
            let path = (args.string("path") as NSString).expandingTildeInPath
            let created = try engine { try createParentDirectory(path) }
            try engine { try e.save(to: path) }
            interp.host.print((created.map { "created \($0)\n" } ?? "") + "wrote \(path): the experiment after \(e.state.rounds.count) of \(e.state.config.rounds) round\(e.state.config.rounds == 1 ? "" : "s")")
            return .null
        })
        r.register(Builtin("load", [Parameter("path", .string), poolParameter, modelParameter],
                           summary: "resume a saved experiment on the same pool and model (it goes on saving to the same file after every round)", returns: "experiment") { args, interp in
            let state = try engine { try Experiment.loadState(from: args.string("path")) }
            let (pool, model, train, test) = try features(args, interp)
            let e = try engine {
                let e = try Experiment(pool: pool.pool, model: model.model, trainFeatures: train, testFeatures: test, config: state.config, resumeFrom: state)
                try e.restoreProbe()
                return e
            }
            // A resumed experiment goes on saving where it was saved.
            e.statePath = (args.string("path") as NSString).expandingTildeInPath
            return .object(ExperimentObject(e, pool: pool, model: model))
        })
        r.group = .labelling
        r.register(Builtin("import", [Parameter("path", .string, "answers: CSV id,label, or a Label Studio JSON / JSON_MIN export"), poolParameter],
                           summary: "read annotators' answers; unknown ids and labels are reported") { args, interp in
            let pool = args.object("pool", as: PoolObject.self)!
            let answers = try engine { try AnnotationExchange.importAnswers(from: args.string("path"), pool: pool.pool) }
            for p in answers.problems { interp.host.print("warning: \(p)") }
            if !answers.skipped.isEmpty { interp.host.print("skipped: \(answers.skipped.map(String.init).joined(separator: ", "))") }
            // Skips stay in the list with label nil, so that a round run on these answers records them as skipped.
            return .list(answers.labels.map { .record([("id", .number(Double($0.id))), ("label", .string(pool.pool.classNames[$0.label]))]) }
                         + answers.skipped.map { .record([("id", .number(Double($0))), ("label", .null)]) })
        })
        r.register(Builtin("annotate", [Parameter("query", .instance(QueryObject.self)), Parameter("path", .string, "the answers CSV to write (id,label)"),
                                        Parameter("error_rate", .number, default: .number(0), "fraction of answers given as a wrong class"),
                                        Parameter("seed", .integer, default: .number(0))],
                           summary: "a simulated annotator: writes the ground-truth answers to a query batch, as a person would return them",
                           details: "For headless demos and what-if studies of annotation noise; read the file back with import().") { args, _ in
            let q = args.object("query", as: QueryObject.self)!
            let path = (args.string("path") as NSString).expandingTildeInPath
            try engine {
                try createParentDirectory(path)
                let answers = try SimulatedAnnotator(errorRate: args.number("error_rate"), seed: UInt64(bitPattern: Int64(args.int("seed"))))
                    .answers(for: q.ids, pool: q.pool.pool)
                try AnnotationExchange.exportAnswersCSV(answers, pool: q.pool.pool, to: path)
            }
            return .null
        })
        r.register(Builtin("export", [Parameter("query", .instance(QueryObject.self)), Parameter("path", .string, "a .csv, or .json for Label Studio"),
                                      Parameter("images", .choice(AnnotationExchange.ImageHandoff.allCases.map(\.rawValue)), default: .string("copy"),
                                                "copy: images beside the file as NAME-images/<id>.png; link: the same as symbolic links; path: the pool's own paths (which may name the class)")],
                           summary: "write a query batch for annotators (CSV id,path,score,predicted or Label Studio tasks), images under neutral names",
                           details: "Annotators should not see the answer: many datasets keep each class in its own folder, so by default the\n" +
                               "images are copied beside the export under their ids and the file names those copies (relative paths).") { args, interp in
            let q = args.object("query", as: QueryObject.self)!
            let items = zip(q.ids.indices, q.ids).map { AnnotationExchange.Query(id: $1, score: q.scores[$0], predicted: q.predicted[$0]) }
            let path = (args.string("path") as NSString).expandingTildeInPath
            let json = path.hasSuffix(".json")
            let created = try engine { try createParentDirectory(path) }
            let handoff = AnnotationExchange.ImageHandoff(rawValue: args.string("images"))!
            try engine {
                if json { try AnnotationExchange.exportLabelStudio(items, pool: q.pool.pool, to: path, images: handoff) }
                else { try AnnotationExchange.exportCSV(items, pool: q.pool.pool, to: path, images: handoff) }
            }
            let folder = ((path as NSString).deletingPathExtension) + "-images"
            let images = handoff == .path ? "" : "\n\(handoff == .copy ? "copied" : "linked") \(items.count) image\(items.count == 1 ? "" : "s") into \(folder) (named by id)"
            interp.host.print((created.map { "created \($0)\n" } ?? "") + "wrote \(path): \(items.count) quer\(items.count == 1 ? "y" : "ies") (\(json ? "Label Studio tasks" : "CSV"))" + images)
            return .null
        })
    }
}

/// Creates the folder a file is about to be written into (a report's or an export's subfolder); returns the
/// folder when it had to be created.
@discardableResult
func createParentDirectory(_ path: String) throws -> String? {
    let parent = (path as NSString).deletingLastPathComponent
    guard !parent.isEmpty, !FileManager.default.fileExists(atPath: parent) else { return nil }
    do { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
    catch { throw EngineError(.io, "cannot create the folder: \(error.localizedDescription)", path: parent) }
    return parent
}

extension Dictionary where Key == Int, Value == Int {
    /// The values for `keys`, in their order (every key must be present).
    func sortedValues(_ keys: [Int]) -> [Int] { keys.map { self[$0]! } }
}
