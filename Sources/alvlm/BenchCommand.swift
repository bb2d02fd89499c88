import AlvlmEngine
import ArgumentParser
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that print one JSON line.",
        subcommands: [BenchEncode.self])
}

struct BenchEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Image-encoding throughput next to a same-run sgemm peak.")

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
            _ = clip.encodeImages(Array(pixels[0..<(3 * s * s * min(images, batch))]), count: min(images, batch), batch: batch) // warm-up
            var best = Double.infinity
            for _ in 0..<repeats {
                let t0 = DispatchTime.now()
                _ = clip.encodeImages(pixels, count: images, batch: batch)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9)
            }
            // The sgemm peak, measured now on the MLP shape of this batch.
            let c = clip.config.vision.width
            let peak = Benchmarks.sgemmPeakGFLOPS(m: batch * clip.config.visionTokens, k: c, n: clip.config.vision.mlp)
            let gflops = clip.imageFlops * Double(images) / best / 1e9
            let result: [String: Any] = [
                "bench": "encode", "model": clip.source, "images": images, "batch": batch,
                "seconds": best, "images_per_second": Double(images) / best,
                "gflops": gflops, "sgemm_peak_gflops": peak, "fraction_of_peak": gflops / peak,
                "gflop_per_image": clip.imageFlops / 1e9, "blas_threads": BLAS.threads, "cores": Engine.cores,
            ]
            let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: json, as: UTF8.self))
        }
    }
}
