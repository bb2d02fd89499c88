import Foundation

public struct VisionWeights {
    public var patch: [Float]      // [C, 3*p*p] (conv1 with kernel = stride = patch, as a GEMM)
    public var classEmbedding: [Float]  // [C]
    public var positions: [Float]  // [tokens, C]
    public var preW: [Float], preB: [Float]
    public var blocks: [BlockWeights]
    public var postW: [Float], postB: [Float]
    public var projection: [Float] // [E, C] (Linear layout)
}

public struct TextWeights {
    public var tokens: [Float]     // [vocab, C]
    public var positions: [Float]  // [context, C]
    public var blocks: [BlockWeights]
    public var finalW: [Float], finalB: [Float]
    public var projection: [Float] // [E, C] (Linear layout)
}

/// How the tensors of a checkpoint are named: Hugging Face `CLIPModel`, or OpenAI / open_clip.
enum WeightNaming {
    case huggingFace, openAI

    /// Reads the tensors of both towers, validating every shape against `config`.
    func load(from file: SafetensorsFile, config: CLIPConfig) throws -> (VisionWeights, TextWeights, Float) {
        let v = config.vision, t = config.text, p = config.patchSize
        func get(_ name: String, _ shape: [Int]) throws -> [Float] {
            guard let e = file.entries[name] else { throw EngineError(.model, "missing tensor \(name)", path: file.path) }
            guard e.shape == shape || (e.shape.reduce(1, *) == shape.reduce(1, *) && shape.count == 1 && e.shape.count <= 1) else {
                throw EngineError(.model, "tensor \(name) has shape \(e.shape), config.json implies \(shape)", path: file.path)
            }
            return try file.floats(name)
        }
        /// [rows, cols] -> [cols, rows]
        func transposed(_ x: [Float], rows: Int, cols: Int) -> [Float] {
            var out = [Float](repeating: 0, count: x.count)
            for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = x[r * cols + c] } }
            return out
        }
        func blocks(_ prefix: String, _ s: TowerShape) throws -> [BlockWeights] {
            let c = s.width, m = s.mlp
            return try (0..<s.layers).map { i in
                switch self {
                case .huggingFace:
                    let l = "\(prefix)encoder.layers.\(i)."
                    let a = l + "self_attn."
                    return BlockWeights(
                        ln1w: try get(l + "layer_norm1.weight", [c]), ln1b: try get(l + "layer_norm1.bias", [c]),
                        qkvw: try get(a + "q_proj.weight", [c, c]) + get(a + "k_proj.weight", [c, c]) + get(a + "v_proj.weight", [c, c]),
                        qkvb: try get(a + "q_proj.bias", [c]) + get(a + "k_proj.bias", [c]) + get(a + "v_proj.bias", [c]),
                        projw: try get(a + "out_proj.weight", [c, c]), projb: try get(a + "out_proj.bias", [c]),
                        ln2w: try get(l + "layer_norm2.weight", [c]), ln2b: try get(l + "layer_norm2.bias", [c]),
                        fc1w: try get(l + "mlp.fc1.weight", [m, c]), fc1b: try get(l + "mlp.fc1.bias", [m]),
                        fc2w: try get(l + "mlp.fc2.weight", [c, m]), fc2b: try get(l + "mlp.fc2.bias", [c]))
                case .openAI:
                    let l = "\(prefix)transformer.resblocks.\(i)."
                    return BlockWeights(
                        ln1w: try get(l + "ln_1.weight", [c]), ln1b: try get(l + "ln_1.bias", [c]),
                        qkvw: try get(l + "attn.in_proj_weight", [3 * c, c]), qkvb: try get(l + "attn.in_proj_bias", [3 * c]),
                        projw: try get(l + "attn.out_proj.weight", [c, c]), projb: try get(l + "attn.out_proj.bias", [c]),
                        ln2w: try get(l + "ln_2.weight", [c]), ln2b: try get(l + "ln_2.bias", [c]),
                        fc1w: try get(l + "mlp.c_fc.weight", [m, c]), fc1b: try get(l + "mlp.c_fc.bias", [m]),
                        fc2w: try get(l + "mlp.c_proj.weight", [c, m]), fc2b: try get(l + "mlp.c_proj.bias", [c]))
                }
            }
        }
        let e = config.embedDim, vc = v.width, tc = t.width
        switch self {
        case .huggingFace:
            let vp = "vision_model.", tp = "text_model."
            let vision = VisionWeights(
                patch: try get(vp + "embeddings.patch_embedding.weight", [vc, 3, p, p]),
                classEmbedding: try get(vp + "embeddings.class_embedding", [vc]),
                positions: try get(vp + "embeddings.position_embedding.weight", [config.visionTokens, vc]),
                preW: try get(vp + "pre_layrnorm.weight", [vc]), preB: try get(vp + "pre_layrnorm.bias", [vc]),
                blocks: try blocks(vp, v),
                postW: try get(vp + "post_layernorm.weight", [vc]), postB: try get(vp + "post_layernorm.bias", [vc]),
                projection: try get("visual_projection.weight", [e, vc]))
            let text = TextWeights(
                tokens: try get(tp + "embeddings.token_embedding.weight", [config.vocabSize, tc]),
                positions: try get(tp + "embeddings.position_embedding.weight", [config.contextLength, tc]),
                blocks: try blocks(tp, t),
                finalW: try get(tp + "final_layer_norm.weight", [tc]), finalB: try get(tp + "final_layer_norm.bias", [tc]),
                projection: try get("text_projection.weight", [e, tc]))
            return (vision, text, try get("logit_scale", [1]).first ?? 0)
        case .openAI:
            let vision = VisionWeights(
                patch: try get("visual.conv1.weight", [vc, 3, p, p]),
                classEmbedding: try get("visual.class_embedding", [vc]),
                positions: try get("visual.positional_embedding", [config.visionTokens, vc]),
                preW: try get("visual.ln_pre.weight", [vc]), preB: try get("visual.ln_pre.bias", [vc]),
                blocks: try blocks("visual.", v),
                postW: try get("visual.ln_post.weight", [vc]), postB: try get("visual.ln_post.bias", [vc]),
                projection: transposed(try get("visual.proj", [vc, e]), rows: vc, cols: e))
            let text = TextWeights(
                tokens: try get("token_embedding.weight", [config.vocabSize, tc]),
                positions: try get("positional_embedding", [config.contextLength, tc]),
                blocks: try blocks("", t),
                finalW: try get("ln_final.weight", [tc]), finalB: try get("ln_final.bias", [tc]),
                projection: transposed(try get("text_projection", [tc, e]), rows: tc, cols: e))
            return (vision, text, try get("logit_scale", [1]).first ?? 0)
        }
    }
}

// MARK: random weights (openai/CLIP `initialize_parameters` conventions)

extension BlockWeights {
    static func random(_ s: TowerShape, layers: Int, rng: inout SeededRandom) -> BlockWeights {
        let c = s.width, m = s.mlp
        let attnStd = pow(Double(c), -0.5), projStd = attnStd * pow(2.0 * Double(layers), -0.5), fcStd = pow(2.0 * Double(c), -0.5)
        let ones = [Float](repeating: 1, count: c), zeros = [Float](repeating: 0, count: c)
        return BlockWeights(
            ln1w: ones, ln1b: zeros,
            qkvw: rng.normals(3 * c * c, std: attnStd), qkvb: [Float](repeating: 0, count: 3 * c),
            projw: rng.normals(c * c, std: projStd), projb: zeros,
            ln2w: ones, ln2b: zeros,
            fc1w: rng.normals(m * c, std: fcStd), fc1b: [Float](repeating: 0, count: m),
            fc2w: rng.normals(c * m, std: projStd), fc2b: zeros)
    }
}

extension VisionWeights {
    static func random(_ config: CLIPConfig, rng: inout SeededRandom) -> VisionWeights {
        let s = config.vision, c = s.width, p = config.patchSize
        let scale = pow(Double(c), -0.5)
        return VisionWeights(
            patch: rng.normals(c * 3 * p * p, std: pow(Double(3 * p * p), -0.5)),
            classEmbedding: rng.normals(c, std: scale),
            positions: rng.normals(config.visionTokens * c, std: scale),
            preW: .init(repeating: 1, count: c), preB: .init(repeating: 0, count: c),
            blocks: (0..<s.layers).map { _ in .random(s, layers: s.layers, rng: &rng) },
            postW: .init(repeating: 1, count: c), postB: .init(repeating: 0, count: c),
            projection: rng.normals(config.embedDim * c, std: scale))
    }
}

extension TextWeights {
    static func random(_ config: CLIPConfig, rng: inout SeededRandom) -> TextWeights {
        let s = config.text, c = s.width
        return TextWeights(
            tokens: rng.normals(config.vocabSize * c, std: 0.02),
            positions: rng.normals(config.contextLength * c, std: 0.01),
            blocks: (0..<s.layers).map { _ in .random(s, layers: s.layers, rng: &rng) },
            finalW: .init(repeating: 1, count: c), finalB: .init(repeating: 0, count: c),
            projection: rng.normals(config.embedDim * c, std: pow(Double(c), -0.5)))
    }
}
