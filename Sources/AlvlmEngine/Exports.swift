/// The engine is built on the kernels module: everything that uses the engine sees its kernels too (BLAS, the
/// parallel loop, the losses' pieces).
@_exported import AlvlmKernels

extension Activation {
    /// The activation a checkpoint's config names (`hidden_act`).
    init(configName: String) throws {
        switch configName {
        case "quick_gelu": self = .quickGELU
        case "gelu", "gelu_python": self = .gelu
        default: throw EngineError(.model, "unsupported hidden_act \(configName) (expected quick_gelu or gelu)")
        }
    }
}
