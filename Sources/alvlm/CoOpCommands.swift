import AlvlmEngine
import ArgumentParser
import Foundation

/// Lines of a UTF-8 text file (a trailing newline does not add an empty line).
func readLines(_ path: String, what: String) throws -> [String] {
    guard let data = FileManager.default.contents(atPath: path) else { throw EngineError(.io, "cannot read \(what) file", path: path) }
    guard let text = String(data: data, encoding: .utf8) else { throw EngineError(.format, "\(what) file is not UTF-8", path: path) }
    var lines = text.components(separatedBy: "\n").map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
    if lines.last == "" { lines.removeLast() }
    return lines
}

func readClassNames(_ path: String) throws -> [String] {
    let names = try readLines(path, what: "class names")
    guard !names.isEmpty else { throw EngineError(.format, "no class names", path: path) }
    if let i = names.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
        throw EngineError(.format, "line \(i + 1) is an empty class name", path: path)
    }
    return names
}

func readLabels(_ path: String, count: Int, classes: Int, rows: String = "feature rows") throws -> [Int] {
    let lines = try readLines(path, what: "labels")
    var labels: [Int] = []
    for (i, line) in lines.enumerated() {
        guard let v = Int(line.trimmingCharacters(in: .whitespaces)) else {
            throw EngineError(.format, "line \(i + 1): \"\(line)\" is not an integer label", path: path)
        }
        guard v >= 0, v < classes else { throw EngineError(.format, "line \(i + 1): label \(v) is outside 0...\(classes - 1)", path: path) }
        labels.append(v)
    }
    guard labels.count == count else { throw EngineError(.format, "\(labels.count) labels for \(count) \(rows)", path: path) }
    return labels
}

func readFeatures(_ path: String, width: Int) throws -> (values: [Float], rows: Int) {
    let array = try NPY.readFloats(path)
    guard array.shape.count == 2, array.shape[1] == width else {
        throw EngineError(.format, "features have shape \(array.shape); (N, \(width)) expected for this model", path: path)
    }
    let values = array.values
    if let i = values.firstIndex(where: { !$0.isFinite }) {
        throw EngineError(.numeric, "row \(i / width) holds NaN or infinity", path: path)
    }
    return (values, array.shape[0])
}

struct CoOp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coop",
        abstract: "Train CoOp context vectors on precomputed image features; prints the loss per epoch.")

    @Option(name: .long, help: "Model folder.") var model: String
    @Option(name: .long, help: "Image features (N, D) .npy, one row per labelled image.") var features: String
    @Option(name: .long, help: "Labels, one 0-based integer per line.") var labels: String
    @Option(name: .long, help: "Class names, one per line.") var classnames: String
    @Option(name: .customLong("n-ctx"), help: "Number of context vectors.") var nCtx: Int?
    @Option(name: .customLong("ctx-init"), help: "Initial context words; \"\" for random N(0, 0.02) init.") var ctxInit = "a photo of a"
    @Option(name: .customLong("class-position"), help: "end, middle or front.") var classPosition = "end"
    @Flag(name: .long, help: "Class-specific contexts.") var csc = false
    @Option(name: .long) var epochs = 200
    @Option(name: .long) var batch = 32
    @Option(name: .long) var lr = 0.002
    @Option(name: .long) var momentum = 0.9
    @Option(name: .customLong("weight-decay")) var weightDecay = 0.005
    @Option(name: .long) var seed: UInt64 = 0
    @Flag(name: .customLong("no-shuffle"), help: "Keep the feature order (full-batch reproducibility checks).") var noShuffle = false
    @Option(name: .long, help: "Output .npy for the context vectors (n_ctx, width) or (classes, n_ctx, width).") var out: String
    @Option(name: .customLong("text-out"), help: "Output .npy for the class text features (C, D) after training.") var textOut: String?

    func run() throws {
        try reportingErrors {
            guard let position = PromptOptions.ClassPosition(rawValue: classPosition) else {
                throw EngineError(.argument, "--class-position must be end, middle or front")
            }
            let clip = try CLIPModel.load(directory: model)
            let names = try readClassNames(classnames)
            let (values, rows) = try readFeatures(features, width: clip.config.embedDim)
            let labelValues = try readLabels(labels, count: rows, classes: names.count)
            var trainer = TrainerOptions()
            trainer.epochs = epochs; trainer.batchSize = batch; trainer.learningRate = lr; trainer.momentum = momentum
            trainer.weightDecay = weightDecay; trainer.seed = seed; trainer.shuffle = !noShuffle
            let phrase = ctxInit.trimmingCharacters(in: .whitespaces)
            let words = phrase.isEmpty ? 0 : phrase.split(separator: " ").count
            let options = PromptOptions(contextLength: nCtx ?? (words > 0 ? words : 16), contextInit: phrase.isEmpty ? nil : phrase,
                                        classPosition: position, classSpecific: csc, seed: seed)
            let learner = try PromptLearner(model: clip, classNames: names, options: options)
            try CoOpTrainer.train(learner, on: TrainingSet(features: values, labels: labelValues), options: trainer) { r in
                print("epoch \(r.epoch) loss \(String(format: "%.6f", r.loss)) lr \(String(format: "%.3e", r.learningRate))")
            }
            let width = clip.config.text.width
            let shape = csc ? [names.count, options.contextLength, width] : [options.contextLength, width]
            try NPY.write(learner.context, shape: shape, to: out)
            if let textOut { try NPY.write(learner.textFeatures(), shape: [names.count, clip.config.embedDim], to: textOut) }
        }
    }
}

struct ZeroShot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zeroshot",
        abstract: "Zero-shot classification of precomputed image features: predictions, or accuracy with --labels.")

    @Option(name: .long, help: "Model folder.") var model: String
    @Option(name: .long, help: "Image features (N, D) .npy.") var features: String
    @Option(name: .long, help: "Class names, one per line.") var classnames: String
    @Option(name: .long, help: "Labels, one 0-based integer per line: print accuracy and calibration instead of predictions.") var labels: String?
    @Option(name: .long, help: "Prompt template with {} for the class name; repeat to ensemble.") var template: [String] = []

    func run() throws {
        try reportingErrors {
            let clip = try CLIPModel.load(directory: model)
            let names = try readClassNames(classnames)
            let (values, rows) = try readFeatures(features, width: clip.config.embedDim)
            let classifier = try Classifier.zeroShot(model: clip, classNames: names, templates: template.isEmpty ? ["a photo of a {}."] : template)
            let p = try classifier.probabilities(values)
            if let labels {
                let e = try Evaluation(probabilities: p, labels: try readLabels(labels, count: rows, classes: names.count), classes: names.count)
                print(String(format: "accuracy %.4f (%d images, %d classes), ECE %.4f", e.accuracy, e.count, e.classes, e.expectedCalibrationError))
            } else {
                var out = ""
                for r in 0..<rows {
                    let row = p[(r * names.count)..<((r + 1) * names.count)]
                    let best = row.indices.max(by: { row[$0] < row[$1] })! - r * names.count
                    out += "\(best)\t\(names[best])\t\(String(format: "%.4f", row[r * names.count + best]))\n"
                }
                FileHandle.standardOutput.write(Data(out.utf8))
            }
        }
    }
}
