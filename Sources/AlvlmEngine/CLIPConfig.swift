import Foundation

/// The architecture of a CLIP model: two towers, the patch grid and the shared embedding width.
public struct CLIPConfig: Equatable, Sendable {
    public var vision: TowerShape
    public var imageSize: Int
    public var patchSize: Int
    public var text: TowerShape
    public var contextLength: Int
    public var vocabSize: Int
    public var embedDim: Int
    /// Preprocessing normalisation (OpenAI's unless the model folder says otherwise).
    public var mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public var std: [Float] = [0.26862954, 0.26130258, 0.27577711]

    public var grid: Int { imageSize / patchSize }
    public var visionTokens: Int { grid * grid + 1 }

    public init(vision: TowerShape, imageSize: Int, patchSize: Int, text: TowerShape,
                contextLength: Int = 77, vocabSize: Int = 49408, embedDim: Int) {
        self.vision = vision; self.imageSize = imageSize; self.patchSize = patchSize
        self.text = text; self.contextLength = contextLength; self.vocabSize = vocabSize; self.embedDim = embedDim
    }

    /// Named architectures for random-weight models (`--random NAME`).
    public static func named(_ name: String) -> CLIPConfig? {
        let t512 = TowerShape(width: 512, layers: 12, heads: 8, mlp: 2048)
        switch name.lowercased() {
        case "vit-b-32", "vit-b/32":
            return CLIPConfig(vision: TowerShape(width: 768, layers: 12, heads: 12, mlp: 3072), imageSize: 224, patchSize: 32, text: t512, embedDim: 512)
        case "vit-b-16", "vit-b/16":
            return CLIPConfig(vision: TowerShape(width: 768, layers: 12, heads: 12, mlp: 3072), imageSize: 224, patchSize: 16, text: t512, embedDim: 512)
        case "vit-l-14", "vit-l/14":
            return CLIPConfig(vision: TowerShape(width: 1024, layers: 24, heads: 16, mlp: 4096), imageSize: 224, patchSize: 14,
                              text: TowerShape(width: 768, layers: 12, heads: 12, mlp: 3072), embedDim: 768)
        case "tiny-test":
            return CLIPConfig(vision: TowerShape(width: 32, layers: 2, heads: 2, mlp: 128), imageSize: 64, patchSize: 16,
                              text: TowerShape(width: 32, layers: 2, heads: 2, mlp: 128), embedDim: 16)
        default: return nil
        }
    }
    public static let architectureNames = ["vit-b-32", "vit-b-16", "vit-l-14", "tiny-test"]

    // MARK: Hugging Face config.json

    /// Parses a transformers `CLIPConfig` JSON, filling omitted fields with transformers' defaults.
    public static func huggingFace(_ data: Data, path: String) throws -> CLIPConfig {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw EngineError(.format, "config is not a JSON object", path: path)
        }
        let tc = root["text_config"] as? [String: Any] ?? [:]
        let vc = root["vision_config"] as? [String: Any] ?? [:]
        func int(_ d: [String: Any], _ k: String, _ def: Int) throws -> Int {
            guard let v = d[k] else { return def }
            guard let n = (v as? NSNumber)?.intValue, n > 0 else { throw EngineError(.format, "\(k) must be a positive integer", path: path) }
            return n
        }
        func tower(_ d: [String: Any], width: Int, layers: Int, heads: Int, mlp: Int) throws -> TowerShape {
            let act = try Activation(configName: d["hidden_act"] as? String ?? "quick_gelu")
            let eps = (d["layer_norm_eps"] as? NSNumber)?.floatValue ?? 1e-5
            let s = TowerShape(width: try int(d, "hidden_size", width), layers: try int(d, "num_hidden_layers", layers),
                               heads: try int(d, "num_attention_heads", heads), mlp: try int(d, "intermediate_size", mlp),
                               eps: eps, activation: act)
            guard s.width % s.heads == 0 else { throw EngineError(.format, "hidden_size \(s.width) is not divisible by num_attention_heads \(s.heads)", path: path) }
            return s
        }
        let text = try tower(tc, width: 512, layers: 12, heads: 8, mlp: 2048)
        let vision = try tower(vc, width: 768, layers: 12, heads: 12, mlp: 3072)
        let image = try int(vc, "image_size", 224), patch = try int(vc, "patch_size", 32)
        guard image % patch == 0 else { throw EngineError(.format, "image_size \(image) is not a multiple of patch_size \(patch)", path: path) }
        if let channels = vc["num_channels"] as? NSNumber, channels.intValue != 3 {
            throw EngineError(.format, "num_channels \(channels) is not supported (RGB only)", path: path)
        }
        return try CLIPConfig(vision: vision, imageSize: image, patchSize: patch, text: text,
                              contextLength: try int(tc, "max_position_embeddings", 77), vocabSize: try int(tc, "vocab_size", 49408),
                              embedDim: try int(root, "projection_dim", 512)).checked(path: path)
    }

    /// Refuses an architecture that no real file holds before anything is sized by it: every size within many times
    /// what CLIP models use, and at most 2^36 parameters (256 GB of float32). With these bounds no size computed from
    /// the config overflows.
    func checked(path: String) throws -> CLIPConfig {
        let sizes: [(String, Int, Int)] = [
            ("vision hidden size", vision.width, 1 << 16), ("text hidden size", text.width, 1 << 16),
            ("vision MLP size", vision.mlp, 1 << 18), ("text MLP size", text.mlp, 1 << 18),
            ("vision layers", vision.layers, 1024), ("text layers", text.layers, 1024),
            ("vision heads", vision.heads, vision.width), ("text heads", text.heads, text.width),
            ("projection size", embedDim, 1 << 16), ("vocabulary size", vocabSize, 1 << 24),
            ("context length", contextLength, 1 << 16), ("image size", imageSize, 1 << 14), ("patch size", patchSize, imageSize),
        ]
        for (name, value, limit) in sizes where value < 1 || value > limit {
            throw EngineError(.format, "\(name) \(value) is outside 1...\(limit)", path: path)
        }
        guard vision.width % vision.heads == 0, text.width % text.heads == 0, imageSize % patchSize == 0 else {
            throw EngineError(.format, "widths must divide into heads and the image size into patches", path: path)
        }
        guard parameterCount <= 1 << 36 else {
            throw EngineError(.format, "the architecture has \(parameterCount) parameters, more than any model file holds", path: path)
        }
        return self
    }

    /// Weights of the architecture (float32 values in the engine).
    public var parameterCount: Int {
        func tower(_ t: TowerShape) -> Int { t.layers * (4 * t.width * t.width + 2 * t.width * t.mlp + t.mlp + 9 * t.width) + 2 * t.width }
        let textSide = tower(text) + (vocabSize + contextLength) * text.width + text.width * embedDim
        let visionSide = tower(vision) + (3 * patchSize * patchSize + grid * grid + 4) * vision.width + vision.width * embedDim
        return textSide + visionSide + 1
    }

    // MARK: open_clip's open_clip_config.json

    public static func openCLIP(_ data: Data, path: String) throws -> CLIPConfig {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw EngineError(.format, "config is not a JSON object", path: path)
        }
        let model = root["model_cfg"] as? [String: Any] ?? root
        guard let vc = model["vision_cfg"] as? [String: Any], let tc = model["text_cfg"] as? [String: Any],
              let embed = (model["embed_dim"] as? NSNumber)?.intValue else {
            throw EngineError(.format, "open_clip config lacks embed_dim, vision_cfg or text_cfg", path: path)
        }
        if vc["layers"] is [Any] { throw EngineError(.model, "ResNet image towers are not supported (ViT only)", path: path) }
        let act: Activation = (model["quick_gelu"] as? Bool ?? false) ? .quickGELU : .gelu
        func n(_ d: [String: Any], _ k: String, _ def: Int) -> Int { (d[k] as? NSNumber)?.intValue ?? def }
        for (d, k, def) in [(vc, "width", 768), (vc, "layers", 12), (vc, "head_width", 64), (vc, "patch_size", 16), (vc, "image_size", 224),
                            (tc, "width", 512), (tc, "layers", 12), (tc, "heads", 8), (tc, "context_length", 77), (tc, "vocab_size", 49408)] {
            guard n(d, k, def) > 0, n(d, k, def) < 1 << 24 else { throw EngineError(.format, "\(k) must be a positive integer", path: path) }
        }
        for (d, k) in [(vc, "mlp_ratio"), (tc, "mlp_ratio")] {
            if let r = (d[k] as? NSNumber)?.doubleValue, !(r > 0 && r < 64) { throw EngineError(.format, "\(k) must be positive", path: path) }
        }
        guard n(vc, "width", 768) % n(vc, "head_width", 64) == 0, n(tc, "width", 512) % n(tc, "heads", 8) == 0,
              n(vc, "image_size", 224) % n(vc, "patch_size", 16) == 0 else {
            throw EngineError(.format, "widths must divide into heads and the image size into patches", path: path)
        }
        let vw = n(vc, "width", 768), tw = n(tc, "width", 512)
        let vratio = (vc["mlp_ratio"] as? NSNumber)?.doubleValue ?? 4, tratio = (tc["mlp_ratio"] as? NSNumber)?.doubleValue ?? 4
        let vision = TowerShape(width: vw, layers: n(vc, "layers", 12), heads: vw / n(vc, "head_width", 64),
                                mlp: Int(Double(vw) * vratio), activation: act)
        let text = TowerShape(width: tw, layers: n(tc, "layers", 12), heads: n(tc, "heads", 8),
                              mlp: Int(Double(tw) * tratio), activation: act)
        var config = try CLIPConfig(vision: vision, imageSize: n(vc, "image_size", 224), patchSize: n(vc, "patch_size", 16),
                                    text: text, contextLength: n(tc, "context_length", 77), vocabSize: n(tc, "vocab_size", 49408),
                                    embedDim: embed).checked(path: path)
        if let pre = root["preprocess_cfg"] as? [String: Any] {
            if let m = pre["mean"] as? [NSNumber], m.count == 3 { config.mean = m.map(\.floatValue) }
            if let s = pre["std"] as? [NSNumber], s.count == 3 { config.std = s.map(\.floatValue) }
        }
        return config
    }
}
