import Foundation

/// Writing a model as a Hugging Face `CLIPModel` folder (config.json + model.safetensors), the format
/// the engine loads: for random-weight test models and for models trained by the engine.
extension CLIPModel {
    public func save(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let tensors = huggingFaceTensors
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
