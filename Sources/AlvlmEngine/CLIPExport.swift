import Foundation

/// Writing a model as a Hugging Face `CLIPModel` folder (config.json + model.safetensors), the format
/// the engine loads: for random-weight test models and for models trained by the engine.
extension CLIPModel {
    public func save(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        func block(_ prefix: String, _ w: BlockWeights, _ s: TowerShape) {
            let c = s.width, m = s.mlp
            let a = prefix + "self_attn."
            for (i, name) in ["q_proj", "k_proj", "v_proj"].enumerated() {
                tensors.append((a + name + ".weight", [c, c], Array(w.qkvw[(i * c * c)..<((i + 1) * c * c)])))
                tensors.append((a + name + ".bias", [c], Array(w.qkvb[(i * c)..<((i + 1) * c)])))
            }
            tensors += [(a + "out_proj.weight", [c, c], w.projw), (a + "out_proj.bias", [c], w.projb),
                        (prefix + "layer_norm1.weight", [c], w.ln1w), (prefix + "layer_norm1.bias", [c], w.ln1b),
                        (prefix + "layer_norm2.weight", [c], w.ln2w), (prefix + "layer_norm2.bias", [c], w.ln2b),
                        (prefix + "mlp.fc1.weight", [m, c], w.fc1w), (prefix + "mlp.fc1.bias", [m], w.fc1b),
                        (prefix + "mlp.fc2.weight", [c, m], w.fc2w), (prefix + "mlp.fc2.bias", [c], w.fc2b)]
        }
        let v = config.vision, t = config.text, p = config.patchSize
        tensors += [("vision_model.embeddings.patch_embedding.weight", [v.width, 3, p, p], vision.patch),
                    ("vision_model.embeddings.class_embedding", [v.width], vision.classEmbedding),
                    ("vision_model.embeddings.position_embedding.weight", [config.visionTokens, v.width], vision.positions),
                    ("vision_model.pre_layrnorm.weight", [v.width], vision.preW), ("vision_model.pre_layrnorm.bias", [v.width], vision.preB),
                    ("vision_model.post_layernorm.weight", [v.width], vision.postW), ("vision_model.post_layernorm.bias", [v.width], vision.postB),
                    ("visual_projection.weight", [config.embedDim, v.width], vision.projection),
                    ("text_model.embeddings.token_embedding.weight", [config.vocabSize, t.width], text.tokens),
                    ("text_model.embeddings.position_embedding.weight", [config.contextLength, t.width], text.positions),
                    ("text_model.final_layer_norm.weight", [t.width], text.finalW), ("text_model.final_layer_norm.bias", [t.width], text.finalB),
                    ("text_projection.weight", [config.embedDim, t.width], text.projection),
                    ("logit_scale", [], [logitScale])]
        for (i, w) in vision.blocks.enumerated() { block("vision_model.encoder.layers.\(i).", w, v) }
        for (i, w) in text.blocks.enumerated() { block("text_model.encoder.layers.\(i).", w, t) }
        try SafetensorsFile.write(tensors, to: (directory as NSString).appendingPathComponent("model.safetensors"))
        try writeAtomically(try configJSON(), to: (directory as NSString).appendingPathComponent("config.json"))
        if let source = tokenizer?.directory, source != directory {
            for name in ["vocab.json", "merges.txt", "tokenizer.json"] {
                let from = (source as NSString).appendingPathComponent(name)
                guard let data = FileManager.default.contents(atPath: from) else { continue }
                try writeAtomically(data, to: (directory as NSString).appendingPathComponent(name))
            }
        }
    }

    func configJSON() throws -> Data {
        func tower(_ s: TowerShape) -> [String: Any] {
            ["hidden_size": s.width, "num_hidden_layers": s.layers, "num_attention_heads": s.heads,
             "intermediate_size": s.mlp, "hidden_act": s.activation.rawValue, "layer_norm_eps": s.eps]
        }
        var text = tower(config.text)
        text["max_position_embeddings"] = config.contextLength
        text["vocab_size"] = config.vocabSize
        text["eos_token_id"] = tokenizer?.eot ?? 49407
        var vision = tower(config.vision)
        vision["image_size"] = config.imageSize
        vision["patch_size"] = config.patchSize
        let root: [String: Any] = ["architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": config.embedDim,
                                   "logit_scale_init_value": 2.6592, "text_config": text, "vision_config": vision,
                                   "torch_dtype": "float32"]
        return try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
    }
}
