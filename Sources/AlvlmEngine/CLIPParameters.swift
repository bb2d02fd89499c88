import Foundation

/// All trainable tensors of a CLIP model (both towers and the log logit scale), in one fixed order.
/// The same type holds gradients and optimiser moments, so an optimiser walks three of them side by side.
public struct CLIPParameters {
    public let config: CLIPConfig
    public var vision: VisionWeights
    public var text: TextWeights
    public var logitScale: [Float]   // one value: log of the logit scale
    /// The config's tensor table, built once.
    let table: [CLIPTensor]

    public init(config: CLIPConfig, vision: VisionWeights, text: TextWeights, logitScale: Float) {
        self.config = config; self.vision = vision; self.text = text; self.logitScale = [logitScale]
        table = CLIPTensor.table(config)
    }

    public init(model: CLIPModel) { self.init(config: model.config, vision: model.vision, text: model.text, logitScale: model.logitScale) }

    /// Every tensor with its Hugging Face name (q, k and v fused) and whether AdamW decays it, in the table's order.
    public var tensors: [(name: String, values: [Float], decays: Bool)] {
        table.map { ($0.name, self[keyPath: $0.path], $0.decays) }
    }

    /// Replaces every tensor, in the order of `tensors` (sizes must match).
    public mutating func setTensors(_ values: [[Float]]) {
        precondition(values.count == table.count, "\(values.count) tensors for a table of \(table.count)")
        for (t, v) in zip(table, values) {
            precondition(v.count == self[keyPath: t.path].count, "tensor \(t.name) changed size")
            self[keyPath: t.path] = v
        }
    }

    /// The same shapes, all zeros.
    public func zeros() -> CLIPParameters {
        var z = self
        for t in table { z[keyPath: t.path] = [Float](repeating: 0, count: self[keyPath: t.path].count) }
        return z
    }

    public var count: Int { tensors.reduce(0) { $0 + $1.values.count } }

    /// All values in one vector (for gradient checks and checksums).
    public var flattened: [Float] { Array(tensors.map(\.values).joined()) }

    public mutating func setFlattened(_ flat: [Float]) {
        var offset = 0
        setTensors(tensors.map { t in
            defer { offset += t.values.count }
            return Array(flat[offset..<(offset + t.values.count)])
        })
    }

    /// A model with these weights (sharing the tokenizer and preprocessing of `like`).
    public func model(like base: CLIPModel, source: String? = nil) -> CLIPModel {
        CLIPModel(config: base.config, vision: vision, text: text, logitScale: logitScale[0],
                  tokenizer: base.tokenizer, source: source ?? base.source)
    }
}

extension AdamW {
    /// One step on every tensor of a CLIP model (matrices decayed, as CLIP's training does).
    public mutating func update(_ params: inout CLIPParameters, gradients: CLIPParameters, learningRate lr: Double) {
        let tensors = params.tensors
        var values = tensors.map(\.values)
        step(&values, gradients: gradients.tensors.map(\.values), decays: tensors.map(\.decays), learningRate: lr)
        params.setTensors(values)
    }
}
