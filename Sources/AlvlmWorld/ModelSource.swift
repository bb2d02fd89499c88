import AlvlmActive
import AlvlmEngine

/// A model named the way users name one (`clip(SOURCE)`, `--model SOURCE`): what a saved sweep records, so that
/// any process on any node loads the same model again.
public enum ModelSource {
    /// "tiny" (the texture world's CLIP), "random:ARCH[:SEED]" (random weights of a named architecture), or a model
    /// folder (Hugging Face or open_clip).
    public static func load(_ source: String) throws -> CLIPModel {
        if source.hasPrefix("random:") {
            let parts = source.dropFirst(7).split(separator: ":")
            return try CLIPModel.random(String(parts.first ?? ""), seed: parts.count > 1 ? UInt64(parts[1]) ?? 0 : 0)
        }
        if source == "tiny" { return try TinyCLIP.load() }
        return try CLIPModel.load(directory: source)
    }

    /// The trainers this model is best adapted with (the tiny CLIP's own; the paper's for others).
    public static func recommendation(for model: CLIPModel) -> Recommendation { TinyCLIP.recommendation(for: model) ?? .paper }
}
