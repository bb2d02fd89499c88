import Foundation

/// All trainable tensors of a CLIP model (both towers and the log logit scale), in one fixed order.
/// The same type holds gradients and optimiser moments, so an optimiser walks three of them side by side.
public struct CLIPParameters {
    public var vision: VisionWeights
    public var text: TextWeights
    public var logitScale: [Float]   // one value: log of the logit scale

    public init(vision: VisionWeights, text: TextWeights, logitScale: Float) {
        self.vision = vision; self.text = text; self.logitScale = [logitScale]
    }

    public init(model: CLIPModel) { self.init(vision: model.vision, text: model.text, logitScale: model.logitScale) }

    /// Every tensor with its Hugging Face name and whether AdamW decays it (matrices only, as CLIP's training does).
    public var tensors: [(name: String, values: [Float], decays: Bool)] {
        var out: [(String, [Float], Bool)] = []
        func blocks(_ prefix: String, _ bs: [BlockWeights]) {
            for (i, b) in bs.enumerated() {
                for (name, path, decays) in BlockWeights.tensorPaths { out.append(("\(prefix)encoder.layers.\(i).\(name)", b[keyPath: path], decays)) }
            }
        }
        out += [("vision_model.embeddings.patch_embedding.weight", vision.patch, true),
                ("vision_model.embeddings.class_embedding", vision.classEmbedding, false),
                ("vision_model.embeddings.position_embedding.weight", vision.positions, false),
                ("vision_model.pre_layrnorm.weight", vision.preW, false), ("vision_model.pre_layrnorm.bias", vision.preB, false)]
        blocks("vision_model.", vision.blocks)
        out += [("vision_model.post_layernorm.weight", vision.postW, false), ("vision_model.post_layernorm.bias", vision.postB, false),
                ("visual_projection.weight", vision.projection, true),
                ("text_model.embeddings.token_embedding.weight", text.tokens, false),
                ("text_model.embeddings.position_embedding.weight", text.positions, false)]
        blocks("text_model.", text.blocks)
        out += [("text_model.final_layer_norm.weight", text.finalW, false), ("text_model.final_layer_norm.bias", text.finalB, false),
                ("text_projection.weight", text.projection, true), ("logit_scale", logitScale, false)]
        return out
    }

    /// Replaces every tensor, in the order of `tensors` (sizes must match).
    public mutating func setTensors(_ values: [[Float]]) {
        var it = values.makeIterator()
        func next(_ old: [Float]) -> [Float] {
            let v = it.next()!
            precondition(v.count == old.count, "tensor size changed")
            return v
        }
        func blocks(_ bs: inout [BlockWeights]) {
            for i in bs.indices { for (_, path, _) in BlockWeights.tensorPaths { bs[i][keyPath: path] = next(bs[i][keyPath: path]) } }
        }
        vision.patch = next(vision.patch); vision.classEmbedding = next(vision.classEmbedding)
        vision.positions = next(vision.positions); vision.preW = next(vision.preW); vision.preB = next(vision.preB)
        blocks(&vision.blocks)
        vision.postW = next(vision.postW); vision.postB = next(vision.postB); vision.projection = next(vision.projection)
        text.tokens = next(text.tokens); text.positions = next(text.positions)
        blocks(&text.blocks)
        text.finalW = next(text.finalW); text.finalB = next(text.finalB); text.projection = next(text.projection)
        logitScale = next(logitScale)
    }

    /// The same shapes, all zeros.
    public func zeros() -> CLIPParameters {
        var z = self
        z.setTensors(tensors.map { [Float](repeating: 0, count: $0.values.count) })
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

extension BlockWeights {
    /// The block's tensors under their Hugging Face names (q, k and v fused) and whether they decay.
    static let tensorPaths: [(String, WritableKeyPath<BlockWeights, [Float]>, Bool)] = [
        ("layer_norm1.weight", \.ln1w, false), ("layer_norm1.bias", \.ln1b, false),
        ("self_attn.qkv.weight", \.qkvw, true), ("self_attn.qkv.bias", \.qkvb, false),
        ("self_attn.out_proj.weight", \.projw, true), ("self_attn.out_proj.bias", \.projb, false),
        ("layer_norm2.weight", \.ln2w, false), ("layer_norm2.bias", \.ln2b, false),
        ("mlp.fc1.weight", \.fc1w, true), ("mlp.fc1.bias", \.fc1b, false),
        ("mlp.fc2.weight", \.fc2w, true), ("mlp.fc2.bias", \.fc2b, false),
    ]
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
