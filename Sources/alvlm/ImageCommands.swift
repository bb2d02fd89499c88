import AlvlmEngine
import ArgumentParser
import Foundation

/// Decodes and preprocesses files: one given explicitly must decode; one found in a directory is skipped
/// with a warning (counted in `skipped`).
func preprocess<S: Sequence>(_ files: S, with pre: Preprocessor, skipped: inout Int) throws -> (pixels: [Float], kept: [String])
    where S.Element == (path: String, explicit: Bool) {
    var pixels: [Float] = []
    var kept: [String] = []
    for (path, explicit) in files {
        do {
            pixels += pre.pixels(try ImageDecoder.decode(path: path))
            kept.append(path)
        } catch let error as EngineError where !explicit {
            warn("\(error) (skipped)")
            skipped += 1
        }
    }
    return (pixels, kept)
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
            var skipped = 0
            let (pixels, kept) = try preprocess(try ImageFiles.expand(images), with: pre, skipped: &skipped)
            warnSkipped(skipped)
            try NPY.write(pixels, shape: [kept.count, 3, pre.size, pre.size], to: out)
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

    @Argument(help: "Image files or directories (expanded to their images, sorted by path).")
    var images: [String]

    func run() throws {
        try reportingErrors {
            guard batch > 0 else { throw EngineError(.argument, "--batch must be positive") }
            let clip = try model.load()
            let pre = Preprocessor(config: clip.config)
            let files = try ImageFiles.expand(images)
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
