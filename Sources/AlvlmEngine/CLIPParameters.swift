import Foundation

/// All trainable tensors of a CLIP model (both towers and the log logit scale) in one allocation, laid out in the
/// tensor table's order; `vision`, `text` and `logitScale` are views into it. The same type holds gradients and
/// optimiser moments, so a gradient is zeroed in place (`zero()`) and an optimiser walks one flat vector.
///
/// Views share their storage: a copy of this struct is the same parameters. `copy()` makes independent ones.
public struct CLIPParameters {
    public let config: CLIPConfig
    /// Every value, in the table's order.
    public let storage: FloatStorage
    public internal(set) var vision: VisionWeights
    public internal(set) var text: TextWeights
    /// One value: the log of the logit scale.
    public internal(set) var logitScale: Tensor
    /// The config's tensor table, built once, and each tensor's offset in `storage`.
    let table: [CLIPTensor]
    let offsets: [Int]

    /// Parameters of a config's shape over `storage` (zeros when not given).
    init(config: CLIPConfig, storage: FloatStorage? = nil) {
        let table = CLIPTensor.table(config)
        var offsets: [Int] = [], total = 0
        for t in table { offsets.append(total); total += t.count }
        let storage = storage ?? FloatStorage(count: total)
        precondition(storage.count == total, "a storage of \(storage.count) values for \(total) parameters")
        func blocks(_ n: Int) -> [BlockWeights] {
            let e = Tensor.empty
            return (0..<n).map { _ in BlockWeights(ln1w: e, ln1b: e, qkvw: e, qkvb: e, projw: e, projb: e, ln2w: e, ln2b: e, fc1w: e, fc1b: e, fc2w: e, fc2b: e) }
        }
        let e = Tensor.empty
        self.config = config; self.storage = storage; self.table = table; self.offsets = offsets
        vision = VisionWeights(patch: e, classEmbedding: e, positions: e, preW: e, preB: e, blocks: blocks(config.vision.layers),
                               postW: e, postB: e, projection: e)
        text = TextWeights(tokens: e, positions: e, blocks: blocks(config.text.layers), finalW: e, finalB: e, projection: e)
        logitScale = e
        for (t, offset) in zip(table, offsets) { self[keyPath: t.path] = Tensor(storage, offset: offset, count: t.count) }
    }

    /// Independent parameters holding a model's values.
    public init(model: CLIPModel) { self = model.parameters.copy() }

    /// Independent parameters with the same values.
    public func copy() -> CLIPParameters { CLIPParameters(config: config, storage: storage.copy()) }

    /// Zeroed parameters of the same shapes (a gradient or moment buffer).
    public func zeros() -> CLIPParameters { CLIPParameters(config: config) }

    /// Sets every value to zero in place (no allocation).
    public func zero() { storage.zero() }

    /// Every tensor with its Hugging Face name (q, k and v fused), its values (copied out) and whether AdamW decays
    /// it, in the table's order.
    public var tensors: [(name: String, values: [Float], decays: Bool)] {
        table.map { ($0.name, self[keyPath: $0.path].values, $0.decays) }
    }

    /// Each tensor's range in the flat vector and whether AdamW decays it, in the table's order.
    public var segments: [(range: Range<Int>, decays: Bool)] {
        zip(table, offsets).map { ($1..<($1 + $0.count), $0.decays) }
    }

    public var count: Int { storage.count }

    /// All values in one vector (for gradient checks and checksums).
    public var flattened: [Float] { storage.values }

    /// Replaces every value from one vector in the table's order.
    public func setFlattened(_ flat: [Float]) { storage.assign(flat) }

    /// A model with a copy of these weights (sharing the tokenizer and preprocessing of `like`).
    public func model(like base: CLIPModel, source: String? = nil) -> CLIPModel {
        CLIPModel(parameters: copy(), tokenizer: base.tokenizer, source: source ?? base.source)
    }
}

extension AdamW {
    /// One step on every tensor of a CLIP model (matrices decayed, as CLIP's training does).
    public mutating func update(_ params: CLIPParameters, gradients: CLIPParameters, learningRate lr: Double) {
        step(params.storage, gradient: gradients.storage, segments: params.segments, learningRate: lr)
    }
}
