import Foundation

/// All trainable tensors of a CLIP model (both towers and the log logit scale), in one fixed order.
/// The same type holds gradients and optimiser moments, so an optimiser walks three of them side by side.
public struct CLIPParameters {
    public let config: CLIPConfig
    public var vision: VisionWeights
    public var text: TextWeights
    public var logitScale: [Float]   // one value: log of the logit scale

    public init(config: CLIPConfig, vision: VisionWeights, text: TextWeights, logitScale: Float) {
        self.config = config; self.vision = vision; self.text = text; self.logitScale = [logitScale]
    }

    public init(model: CLIPModel) { self.init(config: model.config, vision: model.vision, text: model.text, logitScale: model.logitScale) }

    /// Every tensor with its Hugging Face name (q, k and v fused) and whether AdamW decays it, in the table's order.
    public var tensors: [(name: String, values: [Float], decays: Bool)] {
        CLIPTensor.table(config).map { ($0.name, self[keyPath: $0.path], $0.decays) }
    }

    /// Replaces every tensor, in the order of `tensors` (sizes must match).
    public mutating func setTensors(_ values: [[Float]]) {
        let table = CLIPTensor.table(config)
        precondition(values.count == table.count, "\(values.count) tensors for a table of \(table.count)")
        for (t, v) in zip(table, values) {
            precondition(v.count == self[keyPath: t.path].count, "tensor \(t.name) changed size")
            self[keyPath: t.path] = v
        }
    }

    /// The same shapes, all zeros.
    public func zeros() -> CLIPParameters {
        var z = self
        for t in CLIPTensor.table(config) { z[keyPath: t.path] = [Float](repeating: 0, count: self[keyPath: t.path].count) }
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

/// AdamW (Loshchilov & Hutter) with torch.optim.AdamW semantics: decoupled decay θ -= lr·λ·θ before the Adam step,
/// bias-corrected moments, ε added to the corrected root.
public struct AdamW {
    public var beta1: Double = 0.9
    public var beta2: Double = 0.98
    public var epsilon: Double = 1e-6
    public var weightDecay: Double = 0.1
    public private(set) var step = 0
    private var m: [[Float]] = [], v: [[Float]] = []

    public init(beta1: Double = 0.9, beta2: Double = 0.98, epsilon: Double = 1e-6, weightDecay: Double = 0.1) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    public mutating func update(_ params: inout CLIPParameters, gradients: CLIPParameters, learningRate lr: Double) {
        let ps = params.tensors, gs = gradients.tensors
        if m.isEmpty { m = ps.map { [Float](repeating: 0, count: $0.values.count) }; v = m }
        step += 1
        let b1 = Float(beta1), b2 = Float(beta2), eps = Float(epsilon)
        let c1 = Float(1 - pow(beta1, Double(step))), c2 = Float(1 - pow(beta2, Double(step)))
        var updated: [[Float]] = []
        updated.reserveCapacity(ps.count)
        for (k, p) in ps.enumerated() {
            var theta = p.values
            let g = gs[k].values
            let decay = p.decays ? Float(1 - lr * weightDecay) : 1
            let rate = Float(lr)
            m[k].withUnsafeMutableBufferPointer { mk in
            v[k].withUnsafeMutableBufferPointer { vk in
                for i in 0..<theta.count {
                    mk[i] = b1 * mk[i] + (1 - b1) * g[i]
                    vk[i] = b2 * vk[i] + (1 - b2) * g[i] * g[i]
                    let mhat = mk[i] / c1, vhat = vk[i] / c2
                    theta[i] = theta[i] * decay - rate * mhat / (vhat.squareRoot() + eps)
                }
            }}
            updated.append(theta)
        }
        params.setTensors(updated)
    }
}
