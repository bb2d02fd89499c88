import AlvlmEngine

/// The trainers a model is best adapted with, where they differ from the paper's: a model may carry them (the
/// texture world's tiny CLIP does, `AlvlmWorld`), and experiments use them unless given a trainer. Settings the user
/// gives (`coop(epochs: 5)`) go on top of them.
public struct Recommendation: Sendable, Equatable {
    /// CoOp's settings.
    public var coop: TrainerSpec
    /// VPT's and MaPLe's, where they differ from the official recipe.
    public var imagePrompts: [PromptMethod: ImagePromptSpec]

    public init(coop: TrainerSpec = .paper, imagePrompts: [PromptMethod: ImagePromptSpec] = [:]) {
        self.coop = coop; self.imagePrompts = imagePrompts
    }

    /// The paper's CoOp and the official VPT/MaPLe recipe: what every model gets unless it carries its own.
    public static let paper = Recommendation()

    /// The settings for a VPT or MaPLe trainer.
    public func imagePrompts(_ method: PromptMethod) -> ImagePromptSpec { imagePrompts[method] ?? ImagePromptSpec(method) }
}
