import AlvlmActive
import AlvlmEngine
import ArgumentParser
import AlvlmWorld
import Foundation

/// `alvlm pool --world textures`: writes the embedded world's pool to disk with a CSV list, for the other commands.
struct WorldPool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool",
        abstract: "Generate a built-in pool (the texture world) as PNG files plus a CSV list (path,label,split).",
        discussion: "The CSV loads with csv() in the language (whose zero-shot template is the generic \"a photo of a {}.\"; textures() uses \"a photo of a {} texture.\"); encode-images takes the folder. Generation is deterministic per seed and skips images already written with the same settings.")

    @Option(name: .long, help: "The world: textures.") var world: String
    @Option(name: .long, help: "Output folder (default: the cache folder textures() uses).") var out: String?
    @Option(name: .long, help: "The world's seed.") var seed: UInt64 = 0
    @Option(name: .long, help: "Training pool size.") var train = TextureWorld().trainSize
    @Option(name: .long, help: "Validation images.") var val = TextureWorld().valSize
    @Option(name: .customLong("test-per-class"), help: "Test images per class.") var testPerClass = TextureWorld().testPerClass
    @Option(name: .long, help: "Most / least frequent class in the training pool.") var imbalance = TextureWorld().imbalance

    func run() throws {
        try reportingErrors {
            guard world == "textures" else { throw EngineError(.argument, "unknown world \(world) (known: textures)") }
            var w = TextureWorld(seed: seed)
            w.trainSize = train; w.valSize = val; w.testPerClass = testPerClass; w.imbalance = imbalance
            installInterruptHandler()
            var last = Date.distantPast
            let dir = out.map { ($0 as NSString).expandingTildeInPath } ?? w.cacheDirectory()
            let pool = try w.pool(directory: dir, progress: { done, total in
                if done == total || Date().timeIntervalSince(last) > 0.5 { last = Date(); Progress(total: total, label: "generating").update(done) }
            }, cancel: InterruptToken())
            let csvPath = (dir as NSString).appendingPathComponent("pool.csv")
            try DatasetLoader.writeCSV(pool, to: csvPath)
            print(pool.summary)
            print("images in \(dir)\nlist in \(csvPath)")
        }
    }
}
