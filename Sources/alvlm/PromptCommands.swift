import AlvlmEngine
import ArgumentParser
import Foundation

/// Pixels for a pixel prompt learner: a preprocessed (N, 3, S, S) .npy, or image files preprocessed here.
struct PixelInput: ParsableArguments {
    @Option(name: .long, help: "Preprocessed pixels (N, 3, S, S) .npy, as `alvlm preprocess` writes them.") var pixels: String?
    @Argument(help: "Image files or directories (instead of --pixels).") var images: [String] = []

    func load(for model: CLIPModel) throws -> (values: [Float], count: Int) {
        let s = model.config.imageSize
        switch (pixels, images.isEmpty) {
        case let (path?, true):
            let array = try NPY.read(path)
            guard array.shape.count == 4, array.shape[1] == 3, array.shape[2] == s, array.shape[3] == s else {
                throw EngineError(.format, "pixels have shape \(array.shape); (N, 3, \(s), \(s)) expected for this model", path: path)
            }
            let values = array.floats()
            if values.contains(where: { !$0.isFinite }) { throw EngineError(.numeric, "pixels hold NaN or infinity", path: path) }
            return (values, array.shape[0])
        case (nil, false):
            var skipped = 0
            let (values, kept) = try preprocess(try ImageFiles.expand(images), with: Preprocessor(config: model.config), skipped: &skipped)
            warnSkipped(skipped)
            guard !kept.isEmpty else { throw EngineError(.argument, "no images") }
            return (values, kept.count)
        case (nil, true): throw EngineError(.argument, "give --pixels X.npy or image files")
        default: throw EngineError(.argument, "give either --pixels or image files, not both")
        }
    }
}

/// What `vpt` and `maple` share: the data, the prompt sizes and the optimisation.
struct PromptTrainingOptions: ParsableArguments {
    @Option(name: .long, help: "Model folder.") var model: String
    @OptionGroup var input: PixelInput
    @Option(name: .long, help: "Labels, one 0-based integer per line, one per image.") var labels: String
    @Option(name: .long, help: "Class names, one per line.") var classnames: String
    @Option(name: .customLong("init"), help: "Start from these prompts (safetensors with the learner's tensor names; sizes read from it).") var initial: String?
    @Option(name: .long, help: "Seed of the random initialisation.") var seed: UInt64 = 0
    @Option(name: .customLong("n-ctx"), help: "Prompt tokens per layer (default: the official recipe's).") var nCtx: Int?
    @Option(name: .long, help: "Prompted layers: 0..depth-1 (default: the official recipe's).") var depth: Int?
    @Option(name: .long, help: "Epochs (official recipe: 5).") var epochs: Int?
    @Option(name: .long, help: "Batch size (official recipe: 4).") var batch: Int?
    @Option(name: .long, help: "Base learning rate (official recipe: VPT 0.0025, MaPLe 0.0035).") var lr: Double?
    @Option(name: .long) var momentum = 0.9
    @Option(name: .customLong("weight-decay"), help: "0.005 as `coop` (the paper's CoOp value); the official VPT/MaPLe value is 0.0005.")
    var weightDecay = 0.005
    @Flag(name: .customLong("no-shuffle"), help: "Keep the image order (full-batch reproducibility checks).") var noShuffle = false
    @Option(name: .long, help: "Output safetensors for the trained prompts.") var out: String

    func trainer(_ method: PromptMethod) -> TrainerOptions {
        var t = PromptRecipe.official.trainer(method)
        if let epochs { t.epochs = epochs }
        if let batch { t.batchSize = batch }
        if let lr { t.learningRate = lr }
        t.momentum = momentum; t.weightDecay = weightDecay; t.shuffle = !noShuffle; t.seed = seed
        return t
    }

    /// Loads the model, class names and pixels, makes the learner (`fromFile` with --init, whose sizes must agree with
    /// --n-ctx and --depth when given; `fresh` with the given or official sizes), trains it printing
    /// `epoch E loss L lr R` lines, and writes its prompts.
    func run(_ method: PromptMethod, fromFile: (CLIPModel, [String], String) throws -> ImagePromptLearner,
             fresh: (CLIPModel, [String], _ contextLength: Int, _ depth: Int) throws -> ImagePromptLearner) throws {
        try reportingErrors {
            let clip = try CLIPModel.load(directory: model)
            let names = try readClassNames(classnames)
            let (pixels, count) = try input.load(for: clip)
            let learner: ImagePromptLearner
            if let initial {
                learner = try fromFile(clip, names, initial)
                if let nCtx, nCtx != learner.contextLength {
                    throw EngineError(.argument, "--n-ctx \(nCtx) does not match the \(learner.contextLength) tokens of --init")
                }
                if let depth, depth != learner.depth { throw EngineError(.argument, "--depth \(depth) does not match the \(learner.depth) layers of --init") }
            } else {
                learner = try fresh(clip, names, nCtx ?? PromptRecipe.official.contextLength(method), depth ?? PromptRecipe.official.depth(method))
            }
            let labelValues = try readLabels(labels, count: count, classes: names.count, rows: "images")
            try learner.train(on: TrainingImages(pixels: pixels, labels: labelValues), options: trainer(method)) { r in
                print("epoch \(r.epoch) loss \(String(format: "%.6f", r.loss)) lr \(String(format: "%.3e", r.learningRate))")
            }
            try learner.tensors.write(to: out)
        }
    }
}

struct VPTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vpt",
        abstract: "Train VPT-deep visual prompts on images; prints the loss per epoch and writes the prompts (visual_prompts (depth, n_ctx, width)).")

    @OptionGroup var options: PromptTrainingOptions
    @Option(name: .long, help: "The frozen classifier's prompt, {} for the class name (the official code's by default).")
    var template = "a photo of a {}."

    func run() throws {
        try options.run(.vpt, fromFile: { try VPTLearner(model: $0, classNames: $1, prompts: $2, template: template) },
                        fresh: { try VPTLearner(model: $0, classNames: $1, contextLength: $2, depth: $3, seed: options.seed, template: template) })
    }
}

struct MaPLeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maple",
        abstract: "Train MaPLe text and image prompts on images; prints the loss per epoch and writes the prompts (text_ctx, proj, compound_text.i, compound_proj.i).")

    @OptionGroup var options: PromptTrainingOptions
    @Option(name: .customLong("ctx-init"), help: "The prompt before the class name; its first n_ctx tokens are learned (\"\": n_ctx random tokens).")
    var ctxInit = "a photo of a"

    func run() throws {
        try options.run(.maple, fromFile: { try MaPLeLearner(model: $0, classNames: $1, prompts: $2, contextInit: ctxInit) },
                        fresh: { try MaPLeLearner(model: $0, classNames: $1, contextLength: $2, depth: $3, contextInit: ctxInit, seed: options.seed) })
    }
}

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The (N, C) logits, exp(logit_scale) included, of images under trained prompts (vpt, maple) or zero-shot.")

    @Option(name: .long, help: "vpt, maple or zeroshot.") var method: String
    @Option(name: .long, help: "Model folder.") var model: String
    @OptionGroup var input: PixelInput
    @Option(name: .long, help: "Class names, one per line.") var classnames: String
    @Option(name: .long, help: "Trained prompts (safetensors), for vpt and maple.") var params: String?
    @Option(name: .customLong("ctx-init"), help: "MaPLe's prompt before the class name.") var ctxInit = "a photo of a"
    @Option(name: .long, help: "The classifier's prompt for vpt and zeroshot, {} for the class name.") var template = "a photo of a {}."
    @Option(name: .long, help: "Images per forward batch.") var batch = 16
    @Option(name: .long, help: "Output .npy.") var out: String

    func run() throws {
        try reportingErrors {
            guard batch > 0 else { throw EngineError(.argument, "--batch must be positive") }
            let clip = try CLIPModel.load(directory: model)
            let names = try readClassNames(classnames)
            let (pixels, count) = try input.load(for: clip)
            let logits: [Float]
            switch method {
            case "zeroshot":
                logits = try VPTLearner(model: clip, classNames: names, contextLength: 0, depth: 0, template: template).logits(pixels, count: count, batch: batch)
            case "vpt", "maple":
                guard let params else { throw EngineError(.argument, "--method \(method) needs --params P.safetensors") }
                let learner: ImagePromptLearner = method == "vpt"
                    ? try VPTLearner(model: clip, classNames: names, prompts: params, template: template)
                    : try MaPLeLearner(model: clip, classNames: names, prompts: params, contextInit: ctxInit)
                logits = try learner.logits(pixels, count: count, batch: batch)
            default:
                throw EngineError(.argument, "--method must be vpt, maple or zeroshot (CoOp works on features: `alvlm coop --text-out`)")
            }
            try NPY.write(logits, shape: [count, names.count], to: out)
        }
    }
}
