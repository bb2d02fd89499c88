import AlvlmEngine
import ArgumentParser
import AlvlmSession
import AlvlmWorld
import Foundation

/// `alvlm pretrain`: trains the texture world's tiny CLIP from scratch with the engine's own backward pass.
struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Pretrain the embedded texture world's tiny CLIP (contrastive, AdamW) and write it as a model folder.",
        discussion: """
        Learns the caption vocabulary (CLIP's BPE format), then trains on fresh batches of the world's pretraining \
        distribution. Every --eval-every steps it measures zero-shot accuracy on both domains and writes a checkpoint \
        to --out; Ctrl-C stops after the current step and keeps the latest weights. The log has one JSON object per step.
        """)

    @Option(name: .long, help: "Output model folder (config.json, model.safetensors, tokenizer files, training.json).")
    var out: String

    @Option(name: .long, help: "Architecture: \(TinyCLIP.architectureNames.joined(separator: ", ")).")
    var arch = "tiny"

    @Option(name: .long, help: "Optimisation steps.")
    var steps = TinyCLIP.Options().steps

    @Option(name: .long, help: "Image-caption pairs per step.")
    var batch = TinyCLIP.Options().batchSize

    @Option(name: .long, help: "Peak learning rate (after linear warm-up, then cosine).")
    var lr = TinyCLIP.Options().learningRate

    @Option(name: .long, help: "Warm-up steps.")
    var warmup = TinyCLIP.Options().warmupSteps

    @Option(name: .long, help: "Seed of the weights and of the data stream.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Evaluate and checkpoint every N steps.")
    var evalEvery = TinyCLIP.Options().evaluateEvery

    @Option(name: .long, help: "Images per domain in each evaluation.")
    var evalSize = TinyCLIP.Options().evaluationSize

    @Option(name: .long, help: "Write the per-step log (JSON lines) here; default OUT/training-log.jsonl.")
    var log: String?

    @Option(name: .long, help: "Cores to use (default: all). The run is deterministic for a given number.")
    var threads: Int?

    @Flag(name: .long, help: "Overwrite a model already in --out.")
    var force = false

    func run() throws {
        try reportingErrors {
            if let threads, !Engine.configure(cores: threads) {
                throw EngineError(.argument, "--threads \(threads): the engine already runs on \(Engine.cores) cores")
            }
            var options = TinyCLIP.Options()
            options.architecture = arch; options.steps = steps; options.batchSize = batch; options.learningRate = lr
            options.warmupSteps = warmup; options.seed = seed; options.evaluateEvery = evalEvery; options.evaluationSize = evalSize
            try options.validate()
            if !force, FileManager.default.fileExists(atPath: (out as NSString).appendingPathComponent("model.safetensors")) {
                throw EngineError(.argument, "a model is already there (give --force to overwrite it, or another --out)", path: out)
            }
            let world = TextureWorld(seed: 0)
            let initial = try TinyCLIP.initialModel(options: options, directory: out)
            let logPath = log ?? (out as NSString).appendingPathComponent("training-log.jsonl")
            guard FileManager.default.createFile(atPath: logPath, contents: nil), let logFile = FileHandle(forWritingAtPath: logPath) else { throw EngineError(.io, "cannot write the log", path: logPath) }
            defer { try? logFile.close() }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            var reports: [TinyCLIP.Report] = []
            installInterruptHandler()
            let token = InterruptToken()
            let c = initial.config
            FileHandle.standardError.write(Data("pretraining \(arch): ViT \(c.vision.width)w x \(c.vision.layers)L patch \(c.patchSize) at \(c.imageSize)px, text \(c.text.width)w x \(c.text.layers)L, vocabulary \(c.vocabSize), \(CLIPParameters(model: initial).count) parameters, \(steps) steps of \(batch)\n".utf8))
            let model = try TinyCLIP.pretrain(initial, world: world, options: options, cancel: token, onReport: { r in
                reports.append(r)
                logFile.write((try? encoder.encode(r)).map { $0 + Data("\n".utf8) } ?? Data())
                if r.step % 10 == 0 || r.targetAccuracy != nil {
                    var line = String(format: "step %d/%d  loss %.4f  batch acc %.3f  lr %.2e  scale %.1f  %.0fs", r.step, steps, r.loss, r.batchAccuracy, r.learningRate, r.logitScale, r.seconds)
                    if let p = r.pretrainingAccuracy, let t = r.targetAccuracy { line += String(format: "  zero-shot: pretraining %.3f, target %.3f", p, t) }
                    FileHandle.standardError.write(Data((line + "\n").utf8))
                }
            }, checkpoint: { model, report in
                try TinyCLIP.writeTrainingRecord(model, options: options, reports: reports, world: world, to: out, complete: false, tool: alvlmVersion)
            })
            try TinyCLIP.writeTrainingRecord(model, options: options, reports: reports, world: world, to: out, complete: true, tool: alvlmVersion)
            print("wrote \(out) (zero-shot on the target test split: see \((out as NSString).appendingPathComponent("training.json")))")
        }
    }
}
