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

/// Preprocesses files into a float32 .npy (N, 3, S, S) streamed block by block (memory of two blocks of images,
/// whatever N), decoding on every core while the previous block is written on another thread; Ctrl-C stops it
/// between blocks, leaving no output. Returns the kept count.
func preprocess(_ files: [(path: String, explicit: Bool)], with pre: Preprocessor, to out: String, showProgress: Bool) throws -> Int {
    let writer = try NPYRowWriter(path: out, rowShape: [3, pre.size, pre.size])
    let block = 32 * max(1, Engine.cores), progress = Progress(total: files.count, label: "preprocessed")
    let cancel = InterruptToken()
    installInterruptHandler()
    var skipped = 0, start = 0
    let size = 3 * pre.size * pre.size
    // Block b is decoded into buffers[b % 2] while block b - 1 is written from the other; the write of block b - 2
    // (the same buffer) has finished by then, since each write waits for the one before it.
    let buffers = (0..<2).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: block * size) }
    defer { buffers.forEach { $0.deallocate() } }
    let background = BackgroundRows(writer)
    defer { background.wait() }   // runs first: no write outlives the buffers
    var b = 0
    while start < files.count {
        if cancel.isCancelled { throw EngineError(.cancelled, "preprocessing cancelled after \(start) of \(files.count) images; \(out) not written") }
        let end = min(files.count, start + block), buffer = buffers[b % 2]
        let kept = try preprocess(Array(files[start..<end]), with: pre, into: buffer, skipped: &skipped)
        try background.append(buffer, rows: kept, size: size)
        start = end; b += 1
        if showProgress, files.count > block { progress.update(start) }
    }
    try background.finish()
    warnSkipped(skipped)
    try writer.finish()
    return writer.rows
}

/// Rows appended to an NPYRowWriter on a thread of their own, one block at a time, each block's disk write started
/// as soon as it is appended; the first error is thrown by the next `append` or by `finish`.
final class BackgroundRows: @unchecked Sendable {
    private let writer: NPYRowWriter
    private let queue = DispatchQueue(label: "alvlm.rows")
    private var error: Error?   // touched on `queue`, read after waiting for it

    init(_ writer: NPYRowWriter) { self.writer = writer }

    /// Waits for the block before, then appends rows `kept` (of `size` floats each) of `buffer` in the background;
    /// the buffer must stay untouched until the next `append`, `wait` or `finish` returns.
    func append(_ buffer: UnsafeMutablePointer<Float>, rows kept: [Int], size: Int) throws {
        wait()
        if let error { throw error }
        nonisolated(unsafe) let buffer = buffer
        queue.async { [self] in
            do {
                var i = 0
                while i < kept.count {   // runs of consecutive rows in one write each
                    var j = i + 1
                    while j < kept.count && kept[j] == kept[j - 1] + 1 { j += 1 }
                    try writer.append(buffer + kept[i] * size, rows: j - i)
                    i = j
                }
                writer.startFlush()
            } catch { self.error = error }
        }
    }

    func wait() { queue.sync {} }

    /// Waits for the last block and throws the first error, if any.
    func finish() throws {
        wait()
        if let error { throw error }
    }
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
        abstract: "Projected image embeddings (not normalised) as a float32 (or --float16) .npy of shape (N, D), rows in argument order.")

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "Output .npy file.")
    var out: String

    @Option(name: .long, help: "Images per forward batch.")
    var batch: Int = 16

    @Option(name: .long, help: "Only shard I of N of the images (I in 0..N-1; shards cut at multiples of --batch), e.g. a Slurm array task's $SLURM_ARRAY_TASK_ID/N.")
    var shard: String?

    @Flag(name: .long, help: "Read and fill the feature cache (ALVLM_CACHE): what pools, experiments and sweeps read.")
    var cache = false

    @Flag(name: .long, help: "Write float16 (half the file, each value rounded to the nearest half as numpy does); the commands that read features (select, coop, zeroshot, bench select) take float16 or float32 alike. `alvlm bench select --float16` reports what the rounding changes in CEC's scores.")
    var float16 = false

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
                let shape = [files.count, clip.config.embedDim]
                try float16 ? NPY.write(float16: features, shape: shape, to: out) : NPY.write(features, shape: shape, to: out)
                return
            }
            // Rows streamed to the file a batch at a time: memory of one batch, whatever the number of images.
            let writer = try NPYRowWriter(path: out, rowShape: [clip.config.embedDim], dtype: float16 ? .float16 : .float32)
            let progress = Progress(total: files.count, label: "encoded")
            let cancel = InterruptToken()
            installInterruptHandler()
            var skipped = 0, start = 0
            while start < files.count {
                if cancel.isCancelled { throw EngineError(.cancelled, "encoding cancelled after \(start) of \(files.count) images; \(out) not written") }
                let chunk = files[start..<min(files.count, start + batch)]
                let (pixels, kept) = try preprocess(chunk, with: pre, skipped: &skipped)
                if !kept.isEmpty {
                    let features = clip.encodeImages(pixels, count: kept.count, batch: batch)
                    try features.withUnsafeBufferPointer { try writer.append($0.baseAddress!, rows: kept.count) }
                }
                start += chunk.count
                if files.count > batch { progress.update(start) }
            }
            warnSkipped(skipped)
            try writer.finish()
        }
    }
}
