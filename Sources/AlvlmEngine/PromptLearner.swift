import Foundation

/// CoOp's learnable prompt (Zhou et al., "Learning to Prompt for Vision-Language Models", IJCV 2022):
/// per class [SOT] [ctx_1 ... ctx_n] tokens of "{name}." [EOT], where only the context vectors are trained.
public struct PromptOptions: Equatable, Sendable {
    public enum ClassPosition: String, Sendable, CaseIterable { case end, middle, front }

    /// Number of context vectors; must equal the word count of `contextInit` when that is given.
    public var contextLength: Int = 4
    /// Initialise the context from these words' token embeddings; nil: N(0, 0.02²).
    public var contextInit: String? = "a photo of a"
    public var classPosition: ClassPosition = .end
    /// One context per class (CSC) instead of one shared by all classes.
    public var classSpecific = false
    /// Seed for random initialisation.
    public var seed: UInt64 = 0

    public init(contextLength: Int = 4, contextInit: String? = "a photo of a", classPosition: ClassPosition = .end,
                classSpecific: Bool = false, seed: UInt64 = 0) {
        self.contextLength = contextLength; self.contextInit = contextInit; self.classPosition = classPosition
        self.classSpecific = classSpecific; self.seed = seed
    }
}

public final class PromptLearner {
    public let model: CLIPModel
    public let classNames: [String]
    public let options: PromptOptions
    /// The trainable context: [n_ctx, C], or [classes, n_ctx, C] when class-specific.
    public var context: [Float]

    /// Per class, per position: a token id (>= 0) or a context slot (-1 - k).
    let slots: [[Int]]
    let pool: [Int]
    /// Sequence length after truncation at the longest EOT.
    let tokens: Int
    /// Leading positions every class's prompt has in common (SOT and, with a shared context, the context before the
    /// class name): under the causal mask their rows are the same for every class, so they are computed once.
    let sharedPrefix: Int
    /// Whether the shared prefix is computed once (false: every prompt in full, for tests comparing the two).
    var sharesPrefix = true

    private lazy var tower = TextTower(shape: model.config.text)

    public var classes: Int { classNames.count }
    /// Tokens per prompt sequence actually run (after truncating at the longest EOT).
    public var promptTokens: Int { tokens }
    public var width: Int { model.config.text.width }

    public convenience init(model: CLIPModel, classNames: [String], options: PromptOptions = PromptOptions()) throws {
        try self.init(model: model, classNames: classNames, options: options, keepingPhrase: false)
    }

    /// `keepingPhrase` (MaPLe's text side): the init phrase stays whole in every prompt and only its first n tokens
    /// are context (n may be 0, or exceed the phrase's tokens: then n "X" words and random context, as MaPLe does).
    init(model: CLIPModel, classNames: [String], options: PromptOptions, keepingPhrase: Bool) throws {
        guard let tokenizer = model.tokenizer else {
            throw EngineError(.argument, "the model has no tokenizer (vocab.json + merges.txt), needed for prompts", path: model.source)
        }
        guard !classNames.isEmpty else { throw EngineError(.argument, "no class names") }
        let n = options.contextLength, c = model.config.text.width
        guard n >= (keepingPhrase ? 0 : 1), n + 3 <= model.config.contextLength else {
            throw EngineError(.argument, "the context length must be between \(keepingPhrase ? 0 : 1) and \(model.config.contextLength - 3) (got \(n))")
        }
        var prefix = Array(repeating: "X", count: n).joined(separator: " ")
        var initial: [Float]
        let givenPhrase = options.contextInit?.trimmingCharacters(in: .whitespaces) ?? ""
        let phraseTokens = givenPhrase.isEmpty ? 0 : tokenizer.encode(givenPhrase).count - 2
        if keepingPhrase, !givenPhrase.isEmpty, phraseTokens >= n {
            prefix = givenPhrase
            let ids = tokenizer.encode(givenPhrase)
            initial = []
            for k in 0..<n { initial += model.text.tokens[(ids[1 + k] * c)..<((ids[1 + k] + 1) * c)] }
        } else if !keepingPhrase, !givenPhrase.isEmpty {
            let phrase = givenPhrase
            let words = phrase.split(separator: " ").count
            guard words == n else {
                throw EngineError(.argument, "context length \(n) does not match the \(words) words of the init phrase \"\(phrase)\" (give no init phrase for random context)")
            }
            prefix = phrase
            let ids = tokenizer.encode(phrase)
            guard ids.count >= n + 2 else { throw EngineError(.argument, "init phrase \"\(phrase)\" has fewer than \(n) tokens") }
            initial = []
            for k in 0..<n { initial += model.text.tokens[(ids[1 + k] * c)..<((ids[1 + k] + 1) * c)] }
            if options.classSpecific { initial = Array((0..<classNames.count).map { _ in initial }.joined()) }
        } else {
            var rng = SeededRandom(seed: options.seed)
            initial = rng.normals((options.classSpecific ? classNames.count : 1) * n * c, std: 0.02)
        }
        if keepingPhrase, options.classPosition != .end || options.classSpecific {
            throw EngineError(.argument, "a kept phrase puts one shared context before the class name")
        }
        var slots: [[Int]] = [], pool: [Int] = []
        for name in classNames {
            let readable = name.replacingOccurrences(of: "_", with: " ")
            let full = tokenizer.encode(prefix + " " + readable + ".", truncate: false)
            guard full.count <= model.config.contextLength else {
                throw EngineError(.argument, "the prompt for class \"\(name)\" is \(full.count) tokens, more than the \(model.config.contextLength) the text encoder takes")
            }
            let nameLength = tokenizer.encode(readable, truncate: false).count - 2
            let ctx = (0..<n).map { -1 - $0 }
            guard full.count >= 3 + n else { throw EngineError(.argument, "the prompt for class \"\(name)\" has no room for \(n) context tokens") }
            let namePart = Array(full[(1 + n)..<min(full.count, 1 + n + nameLength)])
            let rest = Array(full[min(full.count, 1 + n + nameLength)...])
            var seq: [Int]
            switch options.classPosition {
            case .end: seq = [full[0]] + ctx + Array(full[(1 + n)...])
            case .front: seq = [full[0]] + namePart + ctx + rest
            case .middle: seq = [full[0]] + Array(ctx[..<(n / 2)]) + namePart + Array(ctx[(n / 2)...]) + rest
            }
            slots.append(seq)
            pool.append(seq.firstIndex(of: tokenizer.eot)!)
        }
        self.model = model; self.classNames = classNames; self.options = options
        self.context = initial; self.slots = slots; self.pool = pool
        self.tokens = pool.max()! + 1
        // Class-specific contexts share only what is a token (their context slots name different vectors).
        var common = 0
        while common < pool.min()!, slots.allSatisfy({ $0[common] == slots[0][common] && (slots[0][common] >= 0 || !options.classSpecific) }) {
            common += 1
        }
        self.sharedPrefix = common
    }

    /// How the prompt rows are laid out for the text tower.
    var layout: AttentionLayout {
        sharesPrefix && sharedPrefix > 0 && classes > 1
            ? .sharedPrefix(prefix: sharedPrefix, batch: classes, suffix: tokens - sharedPrefix)
            : .sequences(batch: classes, tokens: tokens)
    }

    /// The input embeddings [layout.rows, C]: token (or context) embedding plus position.
    func embeddings() -> [Float] {
        let c = width, rows = rowSources
        var x = [Float](repeating: 0, count: layout.rows * c)
        Embedding.gather(model.text.tokens, index: rows.token, width: c, into: &x)
        Embedding.gather(context, index: rows.context, width: c, into: &x)
        Embedding.gather(model.text.positions, index: rows.position, width: c, into: &x)
        return x
    }

    /// Where each input row comes from: a token id or a context row (−1 where the other one fills it) and a position.
    /// A shared prefix row appears once, from the first class's prompt.
    var rowSources: (token: [Int], context: [Int], position: [Int]) {
        let t = tokens, n = options.contextLength, layout = layout, shared = layout.sharedPositions
        var token = [Int](repeating: -1, count: layout.rows), context = token, position = token
        for (k, seq) in slots.enumerated() {
            for p in 0..<t where k == 0 || p >= shared {
                let slot = p < seq.count ? seq[p] : 0, r = layout.row(k, p)
                if slot >= 0 { token[r] = slot } else { context[r] = (options.classSpecific ? k * n : 0) + (-1 - slot) }
                position[r] = p
            }
        }
        return (token, context, position)
    }

    /// Class text features [classes, E] (not normalised) for the current context.
    public func textFeatures() -> [Float] { run(saving: false) }

    /// Runs the text tower on the prompts; with `saving`, keeps what `backward` needs.
    /// `prompts` replace rows at chosen layers (MaPLe's deeper text context).
    func run(saving: Bool, prompts: DeepPrompts? = nil) -> [Float] {
        let layout = layout
        return tower.forward(embeddings(), layout: layout, pooled: (0..<classes).map { layout.row($0, pool[$0]) }, weights: model.text,
                             record: saving ? .inputGradients : .none, prompts: prompts)
    }

    /// Gradient of the loss w.r.t. the context, given dLoss/d(text features) [classes, E] of the last `run(saving: true)`.
    func backward(featureGradient df: [Float], prompts: DeepPrompts? = nil) -> [Float] {
        let dx = tower.backward(df, weights: model.text, prompts: prompts)
        // Embedding: the context rows of every class prompt (a shared prefix row once: it holds every class's share).
        var dctx = [Float](repeating: 0, count: context.count)
        Embedding.scatter(dx, index: rowSources.context, width: width, into: &dctx)
        return dctx
    }
}
