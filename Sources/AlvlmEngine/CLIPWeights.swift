import Foundation

/// The image tower's tensors: views into the one storage of a `CLIPParameters` (weights, gradients or moments alike).
public struct VisionWeights {
    public internal(set) var patch: Tensor           // [C, 3*p*p] (conv1 with kernel = stride = patch, as a GEMM)
    public internal(set) var classEmbedding: Tensor  // [C]
    public internal(set) var positions: Tensor       // [tokens, C]
    public internal(set) var preW: Tensor, preB: Tensor
    public internal(set) var blocks: [BlockWeights]
    public internal(set) var postW: Tensor, postB: Tensor
    public internal(set) var projection: Tensor      // [E, C] (Linear layout)
}

/// The text tower's tensors: views into the one storage of a `CLIPParameters`.
public struct TextWeights {
    public internal(set) var tokens: Tensor          // [vocab, C]
    public internal(set) var positions: Tensor       // [context, C]
    public internal(set) var blocks: [BlockWeights]
    public internal(set) var finalW: Tensor, finalB: Tensor
    public internal(set) var projection: Tensor      // [E, C] (Linear layout)
}

/// How the tensors of a checkpoint are named: Hugging Face `CLIPModel`, or OpenAI / open_clip.
enum WeightNaming {
    case huggingFace, openAI
}
