import AlvlmActive
import AlvlmEngine
import AlvlmLanguage
import AlvlmSession
import AlvlmSweep
import Foundation

/// Every kind of file alvlm reads that someone else may have made, as one function of bytes each. The fuzzers
/// (`Tests/Fuzz`, `Scripts/fuzz.sh`) drive these with mutated inputs under AddressSanitizer; the regression tests
/// replay the committed seed corpora and every reproducer a fuzzer found through the same functions.
///
/// A surface may throw any `EngineError`, `LanguageError` or format error: refusing bad input is the expected outcome.
/// What it must never do is crash, read or write out of bounds, leak, or run for long.
public enum FuzzSurface: String, CaseIterable, Sendable {
    /// A model's `model.safetensors` (header, tensor table, data) beside a fixed micro CLIP config; a model that
    /// loads then encodes one text and one image.
    case safetensors
    /// A Hugging Face `config.json` (first byte even) or an open_clip `open_clip_config.json` (odd), then loading the
    /// micro model's weights under it.
    case config
    /// A `.npy` array.
    case npy
    /// JPEG or PNG bytes through the C codec and CLIP preprocessing.
    case image
    /// Text through CLIP's cleaner and tokenizer (first byte even), or `vocab.json` NUL `merges.txt` (odd).
    case tokenizer
    /// alvlm language source: lexer, parser, then the evaluator with the standard library only (no engine calls).
    case language
    /// An `.alnb` notebook, then NUL and `-p NAME=VALUE` overrides one per line, and its .ipynb round trip; or (first
    /// byte `{`) a Jupyter notebook converted to .alnb.
    case notebook
    /// Annotators' answers: CSV `id,label`, Label Studio JSON or JSON_MIN, against a small pool.
    case answers
    /// A pool list (`path,label[,split]`) beside four (empty) images.
    case poolCSV = "pool-csv"
    /// A saved experiment (configuration, strategy spec, labels, rounds), checked against the pool it resumes on.
    case experiment
    /// A label journal another session wrote, replayed.
    case journal
    /// A sweep's plan (`sweep.json`) beside a small pool, read as `sweep status` and `collect` read it.
    case sweep

    /// Builds what every surface shares (the micro model, the small pool, the standard tokenizer, the scratch folder)
    /// once, before the first input: a fuzzer counts what an input allocates and does not free as a leak.
    public static func prepare() {
        _ = MicroModel.shared; _ = SmallPool.shared; _ = CLIPTokenizer.standard; _ = Scratch.root
    }

    /// Runs the surface on one input; errors are the input's, not the program's.
    public func run(_ data: Data) throws {
        switch self {
        case .safetensors: try Self.loadModel(config: MicroModel.shared.configJSON, weights: data, naming: .huggingFace)
        case .config:
            let openCLIP = data.first.map { $0 & 1 == 1 } ?? false
            try Self.loadModel(config: data.dropFirst(), weights: openCLIP ? MicroModel.shared.openCLIPWeights : MicroModel.shared.weights,
                               naming: openCLIP ? .openCLIP : .huggingFace)
        case .npy:
            let array = try NPY.decode(data)
            _ = array.floats().prefix(1)
        case .image:
            let image = try ImageDecoder.decode(data, maxPixels: Self.imagePixelLimit)
            _ = Preprocessor(size: 16).pixels(image)
        case .tokenizer:
            if data.first.map({ $0 & 1 == 1 }) ?? false {
                let parts = data.dropFirst().split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
                let dir = try Scratch.folder("tokenizer")
                try Scratch.write(parts.first ?? Data(), to: dir + "/vocab.json")
                try Scratch.write(parts.count > 1 ? parts[1] : Data(), to: dir + "/merges.txt")
                guard let t = try CLIPTokenizer.inDirectory(dir, contextLength: 8) else { return }
                _ = t.encode("a photo of a cat", truncate: false)
            } else {
                let text = String(decoding: data.dropFirst(), as: UTF8.self)
                _ = CLIPTokenizer.standard?.encode(text, truncate: false)
                _ = CLIPTokenizer.standard?.encode(text, truncate: true)
            }
        case .language: try Self.evaluate(String(decoding: data, as: UTF8.self))
        case .notebook:
            if data.first == UInt8(ascii: "{") {
                // A Jupyter notebook converted to .alnb (`alvlm convert`), which must then read back.
                let text = try Notebook.fromIpynb(data).text()
                _ = try NotebookRunner(path: try Scratch.file("converted.alnb", Data(text.utf8)), overrides: [])
                return
            }
            let parts = data.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
            let path = try Scratch.file("input.alnb", parts.first ?? Data())
            let overrides = parts.count > 1 ? String(decoding: parts[1], as: UTF8.self).split(separator: "\n").map(String.init) : []
            let runner = try NotebookRunner(path: path, overrides: overrides)
            let ipynb = try runner.notebookWithParameters().ipynb(title: "fuzz")
            _ = try Notebook.fromIpynb(ipynb).text()
        case .answers:
            let json = data.first == UInt8(ascii: "[") || data.first == UInt8(ascii: "{")
            let path = try Scratch.file(json ? "answers.json" : "answers.csv", data)
            let answers = try AnnotationExchange.importAnswers(from: path, pool: SmallPool.shared.pool)
            for (id, label) in answers.labels { precondition(SmallPool.shared.pool.contains(id) && label < SmallPool.shared.pool.classes) }
        case .poolCSV:
            // Beside images a.png, b.png, c.png and d.png (files are checked for existence, not read).
            let dir = try Scratch.folder("pool")
            for name in ["a", "b", "c", "d"] where !FileManager.default.fileExists(atPath: "\(dir)/\(name).png") {
                try Scratch.write(Data(), to: "\(dir)/\(name).png")
            }
            try Scratch.write(data, to: dir + "/pool.csv")
            _ = try DatasetLoader.csv(dir + "/pool.csv")
        case .experiment:
            let path = try Scratch.file("experiment.json", data)
            let state = try Experiment.loadState(from: path)
            try state.check(against: SmallPool.shared.pool)
            _ = try state.config.strategy.make()
            _ = try state.config.budget.resolve(poolSize: SmallPool.shared.trainCount)
        case .sweep:
            let dir = try Scratch.folder("sweep")
            if !FileManager.default.fileExists(atPath: dir + "/pool.json") {
                _ = try SweepFolder.plan(at: dir + "/seed", pool: SmallPool.shared.pool, model: "tiny", strategies: [StrategySpec(name: "random")],
                                         seeds: 1, masterSeed: 0, rounds: 1, budget: .count(1), trainer: .none, pseudo: nil)
                try FileManager.default.copyItem(atPath: dir + "/seed/pool.json", toPath: dir + "/pool.json")
            }
            try Scratch.write(data, to: dir + "/sweep.json")
            let folder = SweepFolder(dir)
            let plan = try folder.plan()
            _ = SweepFolder.describe(Array(0..<min(plan.taskCount, 1000)), plan: plan)
            _ = folder.missing(plan: plan)
        case .journal:
            let path = try Scratch.file("labels.journal", data)
            let journal = try LabelJournal(path: path)
            _ = try journal.replayEntries(pool: LabelJournal.key(SmallPool.shared.pool))
            _ = try journal.replayEntries(pool: "textures@0")
        }
    }

    /// Decoding is refused above this many pixels here (the default limit is for real photographs; the fuzzer's
    /// inputs are small, and a large honest image only slows it down).
    static let imagePixelLimit = 1 << 20

    static func loadModel<D: DataProtocol>(config: D, weights: Data, naming: MicroModel.Naming) throws {
        let dir = try Scratch.folder("model")
        let (configName, weightsName) = naming == .huggingFace ? ("config.json", "model.safetensors") : ("open_clip_config.json", "open_clip_model.safetensors")
        for stale in ["config.json", "model.safetensors", "open_clip_config.json", "open_clip_model.safetensors"] {
            try? FileManager.default.removeItem(atPath: dir + "/" + stale)
        }
        try Scratch.write(Data(config), to: dir + "/" + configName)
        try Scratch.write(weights, to: dir + "/" + weightsName)
        // Reading every tensor of the table, as any consumer of the file may.
        let file = try SafetensorsFile(path: dir + "/" + weightsName)
        for name in file.entries.keys.sorted() where file.entries[name]!.count <= 1 << 16 && file.entries[name]!.dtype.isFloat {
            _ = try file.floats(name)
        }
        let model = try CLIPModel.load(directory: dir)
        // Its weights fit in the input, so the model is small; only the image side can still be large (one patch of
        // any size): such a model is accepted honestly but not run here.
        let s = model.config.imageSize
        guard s <= 64 else { return }
        _ = try model.encodeTexts([[0, min(1, model.config.vocabSize - 1)]])
        _ = model.encodeImages([Float](repeating: 0.5, count: 3 * s * s), count: 1)
    }

    /// The language on pure computation: the standard library only, output discarded, and a budget of statements
    /// after which the program is interrupted as Ctrl-C would (a loop that never ends is the input's right).
    static func evaluate(_ source: String) throws {
        _ = try Parser.parse(source)
        let registry = Registry()
        StandardLibrary.register(into: registry)
        let host = BudgetHost(statements: 20_000)
        let interpreter = Interpreter(registry: registry, host: host)
        _ = try interpreter.run(source)
    }
}

/// A language host that discards output and interrupts the program after a number of cancellation checks.
final class BudgetHost: LanguageHost {
    var remaining: Int
    init(statements: Int) { remaining = statements }
    func print(_ text: String) {}
    func progress(_ text: String) {}
    var isCancelled: Bool { remaining -= 1; return remaining < 0 }
}

/// A micro CLIP (widths 8, one layer per tower, a 16-token vocabulary, 8x8 images) written as a Hugging Face model
/// folder once per process: what the model surfaces load fuzzed files against.
final class MicroModel: @unchecked Sendable {
    enum Naming { case huggingFace, openCLIP }
    static let shared = MicroModel()
    // Bytes as arrays: LeakSanitizer does not recognise the references inside a global `Data` and would report them.
    private let configBytes: [UInt8]
    private let weightBytes: [UInt8]
    var configJSON: Data { Data(configBytes) }
    var weights: Data { Data(weightBytes) }
    /// open_clip's tensor names are not written by the engine: the open_clip config is loaded against the same file,
    /// which the loader must refuse tensor by tensor.
    var openCLIPWeights: Data { weights }

    private init() {
        let config = CLIPConfig(vision: TowerShape(width: 8, layers: 1, heads: 2, mlp: 16), imageSize: 8, patchSize: 4,
                                text: TowerShape(width: 8, layers: 1, heads: 2, mlp: 16), contextLength: 8, vocabSize: 16, embedDim: 4)
        var rng = SeededRandom(seed: 7)
        let p = CLIPParameters.random(config, rng: &rng)
        let model = CLIPModel(parameters: p, tokenizer: nil, source: "micro")
        let dir = try! Scratch.folder("micro")
        try! model.save(directory: dir)
        configBytes = [UInt8](FileManager.default.contents(atPath: dir + "/config.json")!)
        weightBytes = [UInt8](FileManager.default.contents(atPath: dir + "/model.safetensors")!)
    }
}

/// A pool of 3 classes and 12 samples (ids 0-11: 8 train, 2 val, 2 test) for the answer and experiment surfaces.
final class SmallPool: @unchecked Sendable {
    static let shared = SmallPool()
    let pool: Pool
    var trainCount: Int { 8 }
    private init() {
        let splits: [Split] = Array(repeating: .train, count: 8) + [.val, .val, .test, .test]
        pool = try! Pool(name: "fuzz", classNames: ["cat", "dog", "tree frog"],
                         samples: splits.enumerated().map { Sample(id: $0.offset, path: "/nonexistent/\($0.offset).png", split: $0.element, label: $0.offset % 3) })
    }
}

/// The surfaces' files: one private folder per process, inputs overwritten in place.
enum Scratch {
    static let root: String = {
        let dir = NSTemporaryDirectory() + "alvlm-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    static func folder(_ name: String) throws -> String {
        let dir = root + "/" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func file<D: DataProtocol>(_ name: String, _ data: D) throws -> String {
        let path = root + "/" + name
        try Scratch.write(Data(data), to: path)
        return path
    }

    static func write(_ data: Data, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw EngineError(.io, "cannot write the fuzzer's scratch file", path: path)
        }
    }
}
