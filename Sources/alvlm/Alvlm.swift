import AlvlmEngine
import AlvlmKernels
import AlvlmSession
import AlvlmSettings
import ArgumentParser
import Foundation


@main
struct Alvlm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alvlm",
        abstract: "Active learning for vision-language models: a native CLIP / CoOp / CEC engine.",
        version: alvlmVersion,
        subcommands: [Repl.self, RunNotebook.self, KernelCommand.self, Convert.self, Pretrain.self, WorldPool.self, Tokenize.self, Preprocess.self, EncodeImages.self, EncodeTexts.self, CoOp.self, VPTCommand.self, MaPLeCommand.self, Logits.self, ZeroShot.self, Select.self,
                      Bench.self, RandomModel.self, SweepCommand.self],
        defaultSubcommand: Repl.self
    )

    /// `alvlm --version` also names what the numbers and plots run on: the OpenBLAS kernel and gnuplot.
    static func main() {
        if CommandLine.arguments.dropFirst().elementsEqual(["--version"]) {
            print(versionReport())
            return
        }
        main(nil)
    }

    static func versionReport() -> String {
        Engine.singleThreadedBLAS
        let plotter = Plotter(settings: .process)
        let forced = Settings.process.forcedBLASKernel.map { ", forced by OPENBLAS_CORETYPE=\($0)" } ?? BLAS.kernelChoice.map { "; \($0)" } ?? ""
        let gnuplot = plotter.gnuplot
        return """
            alvlm \(alvlmVersion)
            BLAS: \(BLAS.configuration) (kernel \(BLAS.coreName)\(forced))\(blasWarning().map { "\nwarning: \($0)" } ?? "")
            gnuplot: \(gnuplot.map { "\(plotter.gnuplotVersion ?? "did not answer --version") (\($0.path))" } ?? "not installed (plots fall back to text)")
            """
    }
}

/// Where the model comes from: a folder, or a random-weight model of a named architecture.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model folder (Hugging Face CLIPModel or open_clip safetensors).")
    var model: String?

    @Option(name: .long, help: "Random-weight model of a named architecture: \(CLIPConfig.architectureNames.joined(separator: ", ")).")
    var random: String?

    @Option(name: .long, help: "Seed for --random weights.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Image encoding: float32, or bfloat16 (several times faster where the CPU has AMX; float32 with a note where it has neither AMX nor AVX512-BF16). Training always runs in float32.")
    var precision: ImagePrecision = .float32

    func load() throws -> CLIPModel {
        let clip: CLIPModel
        switch (model, random) {
        case let (path?, nil): clip = try CLIPModel.load(directory: path)
        case let (nil, name?): clip = try CLIPModel.random(name, seed: seed)
        case (nil, nil): throw EngineError(.argument, "give --model DIR or --random ARCH")
        default: throw EngineError(.argument, "give either --model or --random, not both")
        }
        clip.imagePrecision = precision
        if clip.effectiveImagePrecision != precision {
            FileHandle.standardError.write(Data("alvlm: note: this CPU has neither AMX nor AVX512-BF16; images are encoded in float32\n".utf8))
        }
        return clip
    }
}

/// The process's peak resident memory so far, in MB (benchmarks report it).
func peakMemoryMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// The process's resident memory now, split as /proc/self/status splits it: its own (anonymous) pages and pages of
/// mapped files (which the kernel can drop and read again); nil where /proc is not there.
func residentMemoryMB() -> (anonymous: Double, files: Double)? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    func field(_ name: String) -> Double? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
              let kb = Double(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") else { return nil }
        return kb / 1024
    }
    guard let anonymous = field("RssAnon"), let files = field("RssFile") else { return nil }
    return (anonymous, files)
}

/// Runs `body`, turning engine errors into one line on stderr and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as EngineError {
        FileHandle.standardError.write(Data("alvlm: error: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

func warn(_ message: String) {
    FileHandle.standardError.write(Data("alvlm: warning: \(message)\n".utf8))
}

/// Progress on stderr for long runs: rewritten in place on a terminal, a line per step otherwise.
struct Progress {
    let total: Int
    let label: String
    let interactive = isatty(2) != 0

    func update(_ done: Int) {
        guard total > 0 else { return }
        let line = "\(label) \(done)/\(total)"
        FileHandle.standardError.write(Data((interactive ? "\r\(line)" + (done == total ? "\n" : "") : line + "\n").utf8))
    }
}
