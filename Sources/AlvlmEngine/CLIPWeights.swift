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
}
