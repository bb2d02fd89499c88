import Foundation

/// The one table of CLIP's tensors. Loading (Hugging Face and OpenAI/open_clip names), saving, the parameter list
/// that training and optimisers walk, the image-tower hash and random initialisation all read it, in its order:
/// vision (patch, class, positions, ln_pre, blocks, ln_post, projection), text (tokens, positions, blocks,
/// ln_final, projection), logit scale.
struct CLIPTensor {
    enum Tower { case vision, text, neither }

    /// How random weights are drawn (openai/CLIP's `initialize_parameters` conventions).
    enum Initial {
        case normal(std: Double), ones, zeros, constant(Float)
    }

    /// How a checkpoint stores it, when not as our layout.
    enum Stored {
        case asIs
        /// Hugging Face keeps q, k and v apart (`q_proj`, `k_proj`, `v_proj`); we fuse them, in that order.
        case splitQKV(q: String, k: String, v: String)
        /// OpenAI keeps the projections as [in, out]; we use nn.Linear's [out, in].
        case transposed
    }

    /// The Hugging Face name (the fused q/k/v under `self_attn.qkv`, as gradient checks and logs show it).
    let name: String
    let huggingFace: Stored
    let openAIName: String
    let openAI: Stored
    /// In our layout (a Hugging Face checkpoint's shape for the tensors it stores as they are); [] for a scalar.
    let shape: [Int]
    let tower: Tower
    /// AdamW decays matrices only, as CLIP's training does.
    let decays: Bool
    let initial: Initial
    let path: WritableKeyPath<CLIPParameters, Tensor>

    var count: Int { shape.reduce(1, *) }

    static func table(_ config: CLIPConfig) -> [CLIPTensor] {
        let v = config.vision, t = config.text, p = config.patchSize, e = config.embedDim
        let vc = v.width, tc = t.width
        var out: [CLIPTensor] = []
        func add(_ name: String, _ openAIName: String, _ shape: [Int], _ tower: Tower, decays: Bool = false, _ initial: Initial,
                 _ path: WritableKeyPath<CLIPParameters, Tensor>, huggingFace: Stored = .asIs, openAI: Stored = .asIs) {
            out.append(CLIPTensor(name: name, huggingFace: huggingFace, openAIName: openAIName, openAI: openAI, shape: shape, tower: tower,
                                  decays: decays, initial: initial, path: path))
        }
        func blocks(_ hf: String, _ oa: String, _ s: TowerShape, _ tower: Tower, _ blocks: WritableKeyPath<CLIPParameters, [BlockWeights]>) {
            let c = s.width, m = s.mlp
            let attnStd = pow(Double(c), -0.5), projStd = attnStd * pow(2.0 * Double(s.layers), -0.5), fcStd = pow(2.0 * Double(c), -0.5)
            for i in 0..<s.layers {
                let l = "\(hf)encoder.layers.\(i).", a = l + "self_attn.", o = "\(oa)transformer.resblocks.\(i)."
                let b = blocks.appending(path: \[BlockWeights].[i])
                add(l + "layer_norm1.weight", o + "ln_1.weight", [c], tower, .ones, b.appending(path: \BlockWeights.ln1w))
                add(l + "layer_norm1.bias", o + "ln_1.bias", [c], tower, .zeros, b.appending(path: \BlockWeights.ln1b))
                add(a + "qkv.weight", o + "attn.in_proj_weight", [3 * c, c], tower, decays: true, .normal(std: attnStd), b.appending(path: \BlockWeights.qkvw),
                    huggingFace: .splitQKV(q: a + "q_proj.weight", k: a + "k_proj.weight", v: a + "v_proj.weight"))
                add(a + "qkv.bias", o + "attn.in_proj_bias", [3 * c], tower, .zeros, b.appending(path: \BlockWeights.qkvb),
                    huggingFace: .splitQKV(q: a + "q_proj.bias", k: a + "k_proj.bias", v: a + "v_proj.bias"))
                add(a + "out_proj.weight", o + "attn.out_proj.weight", [c, c], tower, decays: true, .normal(std: projStd), b.appending(path: \BlockWeights.projw))
                add(a + "out_proj.bias", o + "attn.out_proj.bias", [c], tower, .zeros, b.appending(path: \BlockWeights.projb))
                add(l + "layer_norm2.weight", o + "ln_2.weight", [c], tower, .ones, b.appending(path: \BlockWeights.ln2w))
                add(l + "layer_norm2.bias", o + "ln_2.bias", [c], tower, .zeros, b.appending(path: \BlockWeights.ln2b))
                add(l + "mlp.fc1.weight", o + "mlp.c_fc.weight", [m, c], tower, decays: true, .normal(std: fcStd), b.appending(path: \BlockWeights.fc1w))
                add(l + "mlp.fc1.bias", o + "mlp.c_fc.bias", [m], tower, .zeros, b.appending(path: \BlockWeights.fc1b))
                add(l + "mlp.fc2.weight", o + "mlp.c_proj.weight", [c, m], tower, decays: true, .normal(std: projStd), b.appending(path: \BlockWeights.fc2w))
                add(l + "mlp.fc2.bias", o + "mlp.c_proj.bias", [c], tower, .zeros, b.appending(path: \BlockWeights.fc2b))
            }
        }
        let vscale = pow(Double(vc), -0.5)
        add("vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight", [vc, 3, p, p], .vision, decays: true,
            .normal(std: pow(Double(3 * p * p), -0.5)), \.vision.patch)
        add("vision_model.embeddings.class_embedding", "visual.class_embedding", [vc], .vision, .normal(std: vscale), \.vision.classEmbedding)
        add("vision_model.embeddings.position_embedding.weight", "visual.positional_embedding", [config.visionTokens, vc], .vision,
            .normal(std: vscale), \.vision.positions)
        add("vision_model.pre_layrnorm.weight", "visual.ln_pre.weight", [vc], .vision, .ones, \.vision.preW)
        add("vision_model.pre_layrnorm.bias", "visual.ln_pre.bias", [vc], .vision, .zeros, \.vision.preB)
        blocks("vision_model.", "visual.", v, .vision, \.vision.blocks)
        add("vision_model.post_layernorm.weight", "visual.ln_post.weight", [vc], .vision, .ones, \.vision.postW)
        add("vision_model.post_layernorm.bias", "visual.ln_post.bias", [vc], .vision, .zeros, \.vision.postB)
        add("visual_projection.weight", "visual.proj", [e, vc], .vision, decays: true, .normal(std: vscale), \.vision.projection, openAI: .transposed)
        add("text_model.embeddings.token_embedding.weight", "token_embedding.weight", [config.vocabSize, tc], .text, .normal(std: 0.02), \.text.tokens)
        add("text_model.embeddings.position_embedding.weight", "positional_embedding", [config.contextLength, tc], .text,
            .normal(std: 0.01), \.text.positions)
        blocks("text_model.", "", t, .text, \.text.blocks)
        add("text_model.final_layer_norm.weight", "ln_final.weight", [tc], .text, .ones, \.text.finalW)
        add("text_model.final_layer_norm.bias", "ln_final.bias", [tc], .text, .zeros, \.text.finalB)
        add("text_projection.weight", "text_projection", [e, tc], .text, decays: true, .normal(std: pow(Double(tc), -0.5)), \.text.projection,
            openAI: .transposed)
        add("logit_scale", "logit_scale", [], .neither, .constant(Float(log(1 / 0.07))), \.logitScale)
        return out
    }
}

extension CLIPParameters {
    /// Random weights drawn tensor by tensor in the table's order (the draws of openai/CLIP's initialisation).
    public static func random(_ config: CLIPConfig, rng: inout SeededRandom) -> CLIPParameters {
        let p = CLIPParameters(config: config)
        for t in p.table {
            let tensor = p[keyPath: t.path]
            switch t.initial {
            case .normal(let std): tensor.assign(rng.normals(t.count, std: std))
            case .ones: tensor.fill(1)
            case .zeros: tensor.fill(0)
            case .constant(let v): tensor.fill(v)
            }
        }
        return p
    }
}

extension WeightNaming {
    /// Reads every tensor of the table from a checkpoint, validating each shape against the config.
    func load(from file: SafetensorsFile, config: CLIPConfig) throws -> CLIPParameters {
        /// Checks a stored tensor's shape against the config's.
        func check(_ name: String, _ shape: [Int]) throws {
            guard let e = file.entries[name] else { throw EngineError(.model, "missing tensor \(name)", path: file.path) }
            let count = shape.reduce(1, *)
            guard e.shape == shape || (e.shape.reduce(1, *) == count && shape.count <= 1 && e.shape.count <= 1) else {
                throw EngineError(.model, "tensor \(name) has shape \(e.shape), config.json implies \(shape)", path: file.path)
            }
        }
        // Read straight into the parameters' one allocation (only transposed projections go through a copy).
        func read(_ name: String, _ shape: [Int], into tensor: Tensor, at offset: Int = 0) throws {
            try check(name, shape)
            try file.read(name, into: UnsafeMutableBufferPointer(start: tensor.pointer + offset, count: shape.reduce(1, *)))
        }
        let p = CLIPParameters(config: config)
        for t in p.table {
            let (name, stored) = self == .huggingFace ? (t.name, t.huggingFace) : (t.openAIName, t.openAI)
            let tensor = p[keyPath: t.path]
            switch stored {
            case .asIs:
                try read(name, t.shape, into: tensor)
            case let .splitQKV(q, k, v):
                let part = [t.shape[0] / 3] + t.shape.dropFirst(), n = t.count / 3
                try read(q, part, into: tensor); try read(k, part, into: tensor, at: n); try read(v, part, into: tensor, at: 2 * n)
            case .transposed:
                let (rows, cols) = (t.shape[1], t.shape[0])
                try check(name, [rows, cols])
                let x = try file.floats(name)
                for r in 0..<rows { for c in 0..<cols { tensor[c * rows + r] = x[r * cols + c] } }
            }
        }
        return p
    }
}

extension CLIPModel {
    /// The Hugging Face tensors of this model, as `save` writes them (q, k and v apart).
    var huggingFaceTensors: [(name: String, shape: [Int], values: [Float])] {
        let p = parameters
        return p.table.flatMap { t -> [(name: String, shape: [Int], values: [Float])] in
            let values = p[keyPath: t.path].values
            guard case let .splitQKV(q, k, v) = t.huggingFace else { return [(t.name, t.shape, values)] }
            let part = values.count / 3, shape = [t.shape[0] / 3] + t.shape.dropFirst()
            return [(q, shape, Array(values[0..<part])), (k, shape, Array(values[part..<(2 * part)])), (v, shape, Array(values[(2 * part)...]))]
        }
    }
}
