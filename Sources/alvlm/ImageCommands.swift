import AlvlmEngine
import AlvlmSettings
import AlvlmSweep
import ArgumentParser
import Foundation

/// Decodes and preprocesses files on every core: one given explicitly must decode; one found in a directory is
/// skipped with a warning (counted in `skipped`). Pixels of the kept files, in order.
func preprocess<S: Sequence>(_ files: S, with pre: Preprocessor, skipped: inout Int) throws -> (pixels: [Float], kept: [String])
    where S.Element == (path: String, explicit: Bool) {
    let list = Array(files), block = 3 * pre.size * pre.size
    var all = [Float](repeating: 0, count: list.count * block)
    let kept = try all.withUnsafeMutableBufferPointer { try preprocess(list, with: pre, into: $0.baseAddress!, skipped: &skipped) }
    var pixels: [Float] = []
    pixels.reserveCapacity(kept.count * block)
    for i in kept { pixels += all[(i * block)..<((i + 1) * block)] }
    return (pixels, kept.map { list[$0].path })
}

/// Decodes and preprocesses `files` on every core into out (file i at out[i · 3S²]): the indices of the files kept.
func preprocess(_ files: [(path: String, explicit: Bool)], with pre: Preprocessor, into out: UnsafeMutablePointer<Float>,
                skipped: inout Int) throws -> [Int] {
    let errors = pre.pixels(paths: files.map(\.path), into: out)
    var kept: [Int] = []
    for (i, file) in files.enumerated() {
        if let error = errors[i] {
            if file.explicit { throw error }
            warn("\(error) (skipped)")
            skipped += 1
        } else {
            kept.append(i)
        }
    }
    return kept
}

/// Preprocesses files into a float32 .npy (N, 3, S, S) streamed block by block (memory of one block of images,
/// whatever N), decoding on every core; Ctrl-C stops it between blocks, leaving no output. Returns the kept count.
func preprocess(_ files: [(path: String, explicit: Bool)], with pre: Preprocessor, to out: String, showProgress: Bool) throws -> Int {
    let writer = try NPYRowWriter(path: out, rowShape: [3, pre.size, pre.size])
    let block = 32 * max(1, Engine.cores), progress = Progress(total: files.count, label: "preprocessed")
    let cancel = InterruptToken()
    installInterruptHandler()
    var skipped = 0, start = 0
    let size = 3 * pre.size * pre.size
    var buffer = [Float](repeating: 0, count: block * size)   // one block of images, reused
    while start < files.count {
        if cancel.isCancelled { throw EngineError(.cancelled, "preprocessing cancelled after \(start) of \(files.count) images; \(out) not written") }
        let end = min(files.count, start + block)
        try buffer.withUnsafeMutableBufferPointer { b in
            let kept = try preprocess(Array(files[start..<end]), with: pre, into: b.baseAddress!, skipped: &skipped)
            for i in kept { try writer.append(b.baseAddress! + i * size, rows: 1) }
        }
        start = end
        if showProgress, files.count > block { progress.update(start) }
    }
    warnSkipped(skipped)
    try writer.finish()
    return writer.rows
}

func warnSkipped(_ skipped: Int) {
    if skipped > 0 { warn("skipped \(skipped) unreadable image file\(skipped == 1 ? "" : "s")") }
}

struct Preprocess: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "CLIP-preprocess images into a float32 .npy of shape (N, 3, S, S).")

    @Option(name: .long, help: "Model folder (image size and normalisation); default 224 with OpenAI's mean/std.")
    var model: String?

    @Option(name: .long, help: "Output .npy file.")
    var out: String

    @Argument(help: "Image files or directories.")
    var images: [String]

    func run() throws {
        try reportingErrors {
            let pre = try model.map { Preprocessor(config: try CLIPModel.load(directory: $0).config) } ?? Preprocessor()
            _ = try preprocess(try ImageFiles.expand(images), with: pre, to: out, showProgress: true)
        }
    }
}

struct EncodeImages: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode-images",
        abstract: "Projected image embeddings (not normalised) as a float32 .npy of shape (N, D), rows in argument order.")

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "Output .npy file.")
    var out: String

    @Option(name: .long, help: "Images per forward batch.")
    var batch: Int = 16

    @Option(name: .long, help: "Only shard I of N of the images (I in 0..N-1; shards cut at multiples of --batch), e.g. a Slurm array task's $SLURM_ARRAY_TASK_ID/N.")
    var shard: String?

    @Flag(name: .long, help: "Read and fill the feature cache (ALVLM_CACHE): what pools, experiments and sweeps read.")
    var cache = false

    @Argument(help: "Image files or directories (expanded to their images, sorted by path).")
    var images: [String]

    func run() throws {
        try reportingErrors {
            guard batch > 0 else { throw EngineError(.argument, "--batch must be positive") }
            let clip = try model.load()
            let pre = Preprocessor(config: clip.config)
            var files = try ImageFiles.expand(images)
            if let shard {
                let parts = shard.split(separator: "/")
                guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else {
                    throw EngineError(.argument, "--shard takes I/N with 0 <= I < N, not \(shard)")
                }
                files = SweepRunner.shard(files, i, of: n, batch: batch)
            }
            if cache {
                let store = try FeatureCache(directory: Settings.process.featuresDirectory)
                let extractor = ImageFeatureExtractor(model: clip, cache: store)
                extractor.batch = batch
                let progress = Progress(total: files.count, label: "encoded")
                let features = try extractor.features(paths: files.map(\.path), progress: { done, _ in progress.update(done) })
                if store.failedWrites > 0 { warn("\(store.failedWrites) features could not be written to the cache \(store.directory)") }
                try NPY.write(features, shape: [files.count, clip.config.embedDim], to: out)
                return
            }
            let progress = Progress(total: files.count, label: "encoded")
            var features: [Float] = []
            var count = 0, skipped = 0
            var start = 0
            while start < files.count {
                let chunk = files[start..<min(files.count, start + batch)]
                let (pixels, kept) = try preprocess(chunk, with: pre, skipped: &skipped)
                let n = kept.count
                if n > 0 { features += clip.encodeImages(pixels, count: n, batch: batch) }
                count += n
                start += chunk.count
                if files.count > batch { progress.update(start) }
            }
            warnSkipped(skipped)
            try NPY.write(features, shape: [count, clip.config.embedDim], to: out)
        }
    }
}
