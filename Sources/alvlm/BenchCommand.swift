import AlvlmActive
import AlvlmEngine
import AlvlmSettings
import ArgumentParser
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that print one JSON line.",
        subcommands: [BenchEncode.self, BenchPreprocess.self, BenchCoOp.self, BenchVPT.self, BenchMaPLe.self, BenchSelect.self])
}

struct BenchEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Image-encoding throughput next to a same-run sgemm peak.",
        discussion: "With --precision bfloat16, float32 is timed in the same run and the embeddings' cosine to float32's is reported.")

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "Images to encode (random pixels).")
    var images: Int = 16

    @Option(name: .long, help: "Images per forward batch.")
    var batch: Int = 8

    @Option(name: .long, help: "Timed repetitions; the best is reported.")
    var repeats: Int = 2

    func run() throws {
        try reportingErrors {
            guard images > 0, batch > 0, repeats > 0 else { throw EngineError(.argument, "--images, --batch and --repeats must be positive") }
            let clip = try model.load()
            let s = clip.config.imageSize
            var rng = SeededRandom(seed: 1)
            let pixels = rng.normals(images * 3 * s * s, std: 1)
            /// The best time of `repeats` encodings at a precision, and the embeddings.
            func timed(_ precision: ImagePrecision) -> (seconds: Double, features: [Float]) {
                clip.imagePrecision = precision
                _ = clip.encodeImages(Array(pixels[0..<(3 * s * s * min(images, batch))]), count: min(images, batch), batch: batch) // warm-up
                var best = Double.infinity, features: [Float] = []
                for _ in 0..<repeats {
                    let t0 = DispatchTime.now()
                    features = clip.encodeImages(pixels, count: images, batch: batch)
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9)
                }
                return (best, features)
            }
            let precision = model.precision
            var extra: [String: Any] = ["precision": precision.rawValue, "bfloat16_support": BFloat16.support.description]
            let best: Double
            if precision == .bfloat16 {
                guard BFloat16.support > .none else {
                    throw EngineError(.argument, "--precision bfloat16: this CPU has neither AMX nor AVX512-BF16 (encoding would run in float32)")
                }
                let (low, full) = (timed(.bfloat16), timed(.float32))
                let e = clip.config.embedDim
                let cosines = (0..<images).map { i -> Double in
                    var dot = 0.0, a = 0.0, b = 0.0
                    for j in 0..<e {
                        let u = Double(low.features[i * e + j]), v = Double(full.features[i * e + j])
                        dot += u * v; a += u * u; b += v * v
                    }
                    return dot / max((a * b).squareRoot(), .leastNonzeroMagnitude)
                }
                extra["float32_seconds"] = full.seconds
                extra["speedup_over_float32"] = full.seconds / low.seconds
                extra["cosine_to_float32"] = ["min": cosines.min() ?? 0, "mean": cosines.reduce(0, +) / Double(images)]
                best = low.seconds
            } else {
                best = timed(.float32).seconds
            }
            // The sgemm peak, measured now on the MLP shape of this batch.
            let c = clip.config.vision.width
            let peak = Benchmarks.sgemmPeakGFLOPS(m: batch * clip.config.visionTokens, k: c, n: clip.config.vision.mlp)
            let gflops = clip.imageFlops * Double(images) / best / 1e9
            let result: [String: Any] = extra.merging([
                "bench": "encode", "model": clip.source, "images": images, "batch": batch,
                "seconds": best, "images_per_second": Double(images) / best,
                "gflops": gflops, "sgemm_peak_gflops": peak, "fraction_of_peak": gflops / peak,
                "gflop_per_image": clip.imageFlops / 1e9, "blas_threads": BLAS.threads, "cores": Engine.cores,
            ]) { mine, _ in mine }
            let json = try JSONSerialization.data(withJSONObject: result.merging(blasReport()) { mine, _ in mine }, options: [.sortedKeys])
            print(String(decoding: json, as: UTF8.self))
        }
    }
}

struct BenchPreprocess: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Images per second through `alvlm preprocess` (decode, resize, crop, normalise, stream into the .npy).",
        discussion: "Scripts/bench.sh preprocess runs it beside Pillow + torchvision (Scripts/bench_preprocess_reference.py) and compares the arrays.")

    @Option(name: .long, help: "Model folder (image size and normalisation); default 224 with OpenAI's mean/std.")
    var model: String?

    @Option(name: .long, help: "Timed repetitions; the best is reported.")
    var repeats: Int = 2

    @Option(name: .long, help: "Keep the array here (default: a temporary file, removed).")
    var out: String?

    @Argument(help: "Image files or directories.")
    var images: [String]

    func run() throws {
        try reportingErrors {
            guard repeats > 0 else { throw EngineError(.argument, "--repeats must be positive") }
            let pre = try model.map { Preprocessor(config: try CLIPModel.load(directory: $0).config) } ?? Preprocessor()
            let files = try ImageFiles.expand(images)
            let target = out ?? NSTemporaryDirectory() + "/alvlm-bench-preprocess-\(getpid()).npy"
            defer { if out == nil { try? FileManager.default.removeItem(atPath: target) } }
            var best = Double.infinity, kept = 0
            for _ in 0..<repeats {
                // The last repeat's file is removed untimed: freeing it is the filesystem's cost, not preprocessing's.
                try? FileManager.default.removeItem(atPath: target)
                let t0 = DispatchTime.now()
                kept = try preprocess(files, with: pre, to: target, showProgress: false)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9)
            }
            let result: [String: Any] = [
                "bench": "preprocess", "images": kept, "size": pre.size, "seconds": best, "images_per_second": Double(kept) / best,
                "output_mb": Double(kept * 3 * pre.size * pre.size * 4) / 1e6, "peak_rss_mb": peakMemoryMB(), "cores": Engine.cores,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}

struct BenchCoOp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coop",
        abstract: "Seconds per CoOp training step (forward and backward through the text encoder).",
        discussion: "With 47 classes the prompts use the Describable Textures class names, as the reference benchmark does.")

    @OptionGroup var model: ModelOptions
    @Option(name: .long) var classes = 47
    @Option(name: .long) var batch = 32
    @Option(name: .long) var steps = 5
    @Option(name: .customLong("n-ctx")) var nCtx = 4

    func run() throws {
        try reportingErrors {
            guard classes > 0, batch > 0, steps > 0, nCtx > 0 else { throw EngineError(.argument, "--classes, --batch, --steps and --n-ctx must be positive") }
            let clip = try model.load()
            let names = benchClassNames(classes)
            let learner = try PromptLearner(model: clip, classNames: names,
                                            options: PromptOptions(contextLength: nCtx, contextInit: nil, seed: 1))
            var rng = SeededRandom(seed: 2)
            let features = rng.normals(batch * clip.config.embedDim, std: 1)
            let labels = (0..<batch).map { _ in Int(rng.next() % UInt64(classes)) }
            let (best, median) = timeSteps(steps) { _ = learner.lossAndGradient(imageFeatures: features, labels: labels) }
            let result: [String: Any] = [
                "bench": "coop", "model": clip.source, "classes": classes, "batch": batch, "n_ctx": nCtx,
                "prompt_tokens": learner.promptTokens, "seconds_per_step": best, "median_seconds": median,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: result.merging(blasReport()) { mine, _ in mine }, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}

/// Seconds per training step of a pixel prompt learner: forward and backward through the image tower (and, for
/// MaPLe, the text tower for every class), at the official recipe's prompt sizes unless given.
struct PromptStepBench: ParsableArguments {
    @OptionGroup var model: ModelOptions
    @Option(name: .long) var classes = 47
    @Option(name: .long) var batch = 32
    @Option(name: .long) var steps = 3
    @Option(name: .customLong("n-ctx"), help: "Prompt tokens (default: the official recipe's).") var nCtx: Int?
    @Option(name: .long, help: "Prompted layers (default: the official recipe's).") var depth: Int?

    func run(_ method: PromptMethod) throws {
        try reportingErrors {
            guard classes > 0, batch > 0, steps > 0 else { throw EngineError(.argument, "--classes, --batch and --steps must be positive") }
            let clip = try model.load()
            let names = benchClassNames(classes)
            let n = nCtx ?? PromptRecipe.official.contextLength(method), j = depth ?? PromptRecipe.official.depth(method)
            let learner: ImagePromptLearner = method == .vpt
                ? try VPTLearner(model: clip, classNames: names, contextLength: n, depth: j, seed: 1)
                : try MaPLeLearner(model: clip, classNames: names, contextLength: n, depth: j, seed: 1)
            var rng = SeededRandom(seed: 2)
            let s = clip.config.imageSize
            let pixels = rng.normals(batch * 3 * s * s, std: 1)
            let labels = (0..<batch).map { _ in Int(rng.next() % UInt64(classes)) }
            let (best, median) = timeSteps(steps) { _ = learner.lossAndGradient(pixels: pixels, labels: labels) }
            let result: [String: Any] = [
                "bench": method.rawValue, "model": clip.source, "classes": classes, "batch": batch, "n_ctx": n, "depth": j,
                "trainable": learner.tensors.values.count, "seconds_per_step": best, "median_seconds": median,
                "peak_rss_mb": peakMemoryMB(), "cores": Engine.cores,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: result.merging(blasReport()) { mine, _ in mine }, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}

struct BenchVPT: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vpt", abstract: "Seconds per VPT-deep training step (forward and backward through the image tower).")
    @OptionGroup var bench: PromptStepBench
    func run() throws { try bench.run(.vpt) }
}

struct BenchMaPLe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "maple", abstract: "Seconds per MaPLe training step (both towers, forward and backward).")
    @OptionGroup var bench: PromptStepBench
    func run() throws { try bench.run(.maple) }
}

/// The class names of a training-step benchmark: the Describable Textures names for 47 classes (as the reference
/// benchmarks use), else "class k".
func benchClassNames(_ classes: Int) -> [String] {
    classes == DatasetClassNames.describableTextures.count ? DatasetClassNames.describableTextures : (0..<classes).map { "class \($0)" }
}

/// Runs `step` once to warm up (sizing buffers), then `steps` timed times: the best and the median seconds.
func timeSteps(_ steps: Int, _ step: () -> Void) -> (best: Double, median: Double) {
    step()
    let times = (0..<steps).map { _ -> Double in
        let t0 = DispatchTime.now()
        step()
        return Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9
    }.sorted()
    return (times[0], times[times.count / 2])
}

/// What every benchmark says about the BLAS it ran on: the OpenBLAS build and kernel, and a warning when the kernel
/// is older than the CPU allows (forced by OPENBLAS_CORETYPE, or an OpenBLAS that does not know the CPU).
func blasReport() -> [String: Any] {
    Engine.singleThreadedBLAS
    var fields: [String: Any] = ["blas_kernel": BLAS.coreName, "blas_config": BLAS.configuration]
    if let choice = BLAS.kernelChoice { fields["blas_kernel_choice"] = choice }
    if let forced = Settings.process.forcedBLASKernel { fields["openblas_coretype"] = forced }
    if let warning = blasWarning() { fields["blas_warning"] = warning }
    return fields
}

func blasWarning() -> String? {
    BLASKernel.warning(kernel: BLAS.coreName, cpuFlags: BLASKernel.cpuFlags(), forced: Settings.process.forcedBLASKernel)
}

extension ImagePrecision: ExpressibleByArgument {}
