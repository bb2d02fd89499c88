import Foundation

/// The precision of the image tower's matrix products.
public enum ImagePrecision: String, CaseIterable, Codable, Sendable {
    /// Exact (the parity tests' and the default).
    case float32
    /// Inputs and weights rounded to bfloat16, products summed in float32 (`BFloat16`): several times faster on
    /// AMX, with embeddings at cosine ≥ 0.999 to float32's (`alvlm bench encode --precision bfloat16` reports it).
    case bfloat16
}

/// A CLIP model in memory: configuration, the weights of both towers and the logit scale,
/// with batched forward passes. The tokenizer travels with the model when the folder has one.
public final class CLIPModel {
    public let config: CLIPConfig
    /// Every weight, in one allocation; the model never changes them (trainers work on a copy).
    let parameters: CLIPParameters
    public var vision: VisionWeights { parameters.vision }
    public var text: TextWeights { parameters.text }
    /// The checkpoint's log scale; logits use exp(logitScale).
    public let logitScale: Float
    public let tokenizer: CLIPTokenizer?
    /// Where it came from: a folder path, or `random:NAME:SEED`.
    public let source: String

    /// The image tower's matrix products: float32, or bfloat16 where the CPU has AMX or AVX512-BF16 (opt-in; see
    /// `effectiveImagePrecision`).
    public var imagePrecision = ImagePrecision.float32
    /// What image encoding really uses: bfloat16 only when asked and the machine has it (float32 otherwise).
    public var effectiveImagePrecision: ImagePrecision {
        imagePrecision == .bfloat16 && BFloat16.support > .none ? .bfloat16 : .float32
    }
    /// The image tower's weights in bfloat16, packed at the first bfloat16 encoding (the weights never change).
    private lazy var packedVision = VisionTower.PackedVision(vision, config: config)

    private lazy var visionTower = VisionTower(config: config)
    private lazy var textTower = TextTower(shape: config.text)
    var cachedImageHash: UInt64?

    /// A model over these parameters (kept, not copied: the caller hands them over).
    public init(parameters: CLIPParameters, tokenizer: CLIPTokenizer?, source: String) {
        config = parameters.config; self.parameters = parameters
        logitScale = parameters.logitScale[0]; self.tokenizer = tokenizer; self.source = source
        Engine.singleThreadedBLAS
    }

    /// A random-weight model of a named architecture (see `CLIPConfig.named`).
    public static func random(_ name: String, seed: UInt64 = 0) throws -> CLIPModel {
        guard let config = CLIPConfig.named(name) else {
            throw EngineError(.argument, "unknown architecture \(name) (known: \(CLIPConfig.architectureNames.joined(separator: ", ")))")
        }
        var rng = SeededRandom(seed: seed)
        let p = CLIPParameters.random(config, rng: &rng)
        return CLIPModel(parameters: p, tokenizer: CLIPTokenizer.standard, source: "random:\(name):\(seed)")
    }

    /// Loads a model folder: Hugging Face (`config.json` + `model.safetensors`) or
    /// open_clip (`open_clip_config.json` + `open_clip_model.safetensors`), with tokenizer files if present.
    public static func load(directory: String) throws -> CLIPModel {
        let dir = (directory as NSString).expandingTildeInPath
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) else {
            throw EngineError(.io, "model directory not found", path: directory)
        }
        guard isDir.boolValue else { throw EngineError(.io, "not a directory (expected a model folder)", path: directory) }
        func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }
        func read(_ name: String) throws -> Data {
            guard let d = FileManager.default.contents(atPath: path(name)) else {
                throw EngineError(.io, "cannot read file", path: path(name))
            }
            return d
        }
        let config: CLIPConfig, naming: WeightNaming, weightsFile: String
        if exists("model.safetensors") {
            guard exists("config.json") else { throw EngineError(.io, "missing config.json beside model.safetensors", path: directory) }
            config = try CLIPConfig.huggingFace(try read("config.json"), path: path("config.json"))
            naming = .huggingFace
            weightsFile = path("model.safetensors")
        } else if exists("open_clip_model.safetensors") {
            guard exists("open_clip_config.json") else {
                throw EngineError(.io, "missing open_clip_config.json beside open_clip_model.safetensors", path: directory)
            }
            config = try CLIPConfig.openCLIP(try read("open_clip_config.json"), path: path("open_clip_config.json"))
            naming = .openAI
            weightsFile = path("open_clip_model.safetensors")
        } else {
            throw EngineError(.io, "no model.safetensors or open_clip_model.safetensors in the model folder", path: directory)
        }
        var finalConfig = config
        if naming == .huggingFace, exists("preprocessor_config.json"),
           let pre = (try? JSONSerialization.jsonObject(with: try read("preprocessor_config.json"))) as? [String: Any] {
            if let m = pre["image_mean"] as? [NSNumber], m.count == 3 { finalConfig.mean = m.map(\.floatValue) }
            if let s = pre["image_std"] as? [NSNumber], s.count == 3 { finalConfig.std = s.map(\.floatValue) }
        }
        let file = try SafetensorsFile(path: weightsFile)
        let weights = try naming.load(from: file, config: finalConfig)
        let tokenizer = try CLIPTokenizer.inDirectory(dir, contextLength: finalConfig.contextLength)
        return CLIPModel(parameters: weights, tokenizer: tokenizer, source: dir)
    }

    // MARK: image tower

    /// Projected image embeddings (not normalised) for `count` images of normalised pixels [count, 3, S, S].
    /// `progress` is called with the number of images done after each batch.
    public func encodeImages(_ pixels: [Float], count: Int, batch: Int = 16,
                             progress: ((Int) -> Void)? = nil) -> [Float] {
        let s = config.imageSize
        precondition(pixels.count == count * 3 * s * s, "pixels do not match \(count) images of \(s)x\(s)")
        let batch = max(1, batch)
        var out = [Float](repeating: 0, count: count * config.embedDim)
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            pixels.withUnsafeBufferPointer { px in
                out.withUnsafeMutableBufferPointer { o in
                    encodeImageBatch(px.baseAddress! + start * 3 * s * s, count: n, into: o.baseAddress! + start * config.embedDim)
                }
            }
            start += n
            progress?(start)
        }
        return out
    }

    private func encodeImageBatch(_ px: UnsafePointer<Float>, count n: Int, into out: UnsafeMutablePointer<Float>) {
        let features = visionTower.forward(pixels: px, count: n, weights: vision, record: .none,
                                           packed: effectiveImagePrecision == .bfloat16 ? packedVision : nil)
        out.update(from: features, count: features.count)
    }

    /// im2col for the patch embedding: one row per patch [count * grid², 3 * p * p], ordered
    /// (channel, kernel row, kernel column) like conv1's weight, patches in raster order.
    static func im2col(_ px: UnsafePointer<Float>, count n: Int, size s: Int, patch p: Int) -> [Float] {
        let g = s / p, k = 3 * p * p
        var patches = [Float](repeating: 0, count: n * g * g * k)
        patches.withUnsafeMutableBufferPointer { pb in
            let pt = pb.baseAddress!
            parallelChunks(n * g) { range in
                for row in range {
                    let img = row / g, gy = row % g
                    for gx in 0..<g {
                        let dst = pt + ((img * g + gy) * g + gx) * k
                        for ch in 0..<3 {
                            let plane = px + (img * 3 + ch) * s * s
                            for ky in 0..<p {
                                (dst + (ch * p + ky) * p).update(from: plane + (gy * p + ky) * s + gx * p, count: p)
                            }
                        }
                    }
                }
            }
        }
        return patches
    }

    // MARK: text tower

    /// Projected text embeddings (not normalised) for token id sequences (SOT ... EOT, unpadded or padded).
    /// Each batch is truncated after its last pooling position: exact under the causal mask.
    public func encodeTexts(_ ids: [[Int]], batch requested: Int = 64) throws -> [Float] {
        let batch = max(1, requested)
        for (i, seq) in ids.enumerated() {
            guard !seq.isEmpty, seq.count <= config.contextLength else {
                throw EngineError(.argument, "text \(i) has \(seq.count) tokens (1...\(config.contextLength) allowed)")
            }
            if let bad = seq.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
                throw EngineError(.argument, "text \(i) has token id \(bad) outside the vocabulary of \(config.vocabSize)")
            }
        }
        var out = [Float](repeating: 0, count: ids.count * config.embedDim)
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(ids.count, start + batch)])
            out.withUnsafeMutableBufferPointer { o in
                encodeTextBatch(chunk, into: o.baseAddress! + start * config.embedDim)
            }
            start += chunk.count
        }
        return out
    }

    /// Pooling position: the first occurrence of the largest id (the EOT for CLIP's vocabulary).
    static func poolIndex(_ seq: [Int]) -> Int {
        var best = 0
        for (i, v) in seq.enumerated() where v > seq[best] { best = i }
        return best
    }

    private func encodeTextBatch(_ ids: [[Int]], into out: UnsafeMutablePointer<Float>) {
        let pools = ids.map(Self.poolIndex), t = pools.max()! + 1
        let features = textTower.forward(TextTower.embed(ids, tokens: t, weights: text, width: config.text.width),
                                         layout: .sequences(batch: ids.count, tokens: t), pooled: pools.enumerated().map { $0 * t + $1 },
                                         weights: text, record: .none)
        out.update(from: features, count: features.count)
    }

    /// Floating-point operations of one image forward (2 per multiply-add), for benchmarks.
    public var imageFlops: Double {
        let t = config.visionTokens, c = Double(config.vision.width)
        let patch = 2 * Double(config.grid * config.grid) * c * Double(3 * config.patchSize * config.patchSize)
        return patch + config.vision.flops(tokens: t) + 2 * c * Double(config.embedDim)
    }
}
