import AlvlmEngine
import AlvlmKernels
import Foundation

extension TinyCLIP {
    /// Writes a pretrained model folder plus `training.json`: the options, the command that reproduces it, the
    /// last periodic evaluation and the fixed check set's zero-shot accuracy (the first `checkSetSize` target test
    /// images), which the tests recompute from the shipped weights. `tool`: the version string of the writer.
    public static func writeTrainingRecord(_ model: CLIPModel, options: Options, reports: [Report], world: TextureWorld,
                                           to dir: String, complete: Bool, tool: String) throws {
        try model.save(directory: dir)
        let check = try zeroShotAccuracy(model, world: world, domain: .target, count: checkSetSize)
        let last = reports.last(where: { $0.targetAccuracy != nil })
        var record: [String: Any] = [
            "complete": complete, "steps_done": reports.last?.step ?? 0,
            "options": try JSONSerialization.jsonObject(with: JSONEncoder().encode(options)),
            "command": "alvlm pretrain --out \(dir) --arch \(options.architecture) --steps \(options.steps) --batch \(options.batchSize) --lr \(options.learningRate) --warmup \(options.warmupSteps) --seed \(options.seed)",
            "check_set": ["domain": "target", "split": "test", "images": checkSetSize, "template": template, "zero_shot_accuracy": check],
            "seconds": reports.last?.seconds ?? 0, "parameters": CLIPParameters(model: model).count, "cores": Engine.cores,
            "alvlm": tool,
        ]
        if let last {
            record["final_evaluation"] = ["step": last.step, "pretraining_zero_shot": last.pretrainingAccuracy ?? 0,
                                          "target_zero_shot": last.targetAccuracy ?? 0, "images_per_domain": options.evaluationSize]
        }
        try writeAtomically(try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys]),
                            to: (dir as NSString).appendingPathComponent("training.json"))
    }
}
