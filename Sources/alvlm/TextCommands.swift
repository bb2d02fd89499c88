import AlvlmEngine
import ArgumentParser
import Foundation

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print CLIP token ids, one line per text, from SOT to EOT inclusive (no padding).",
        discussion: "Without TEXT arguments every line of standard input is one text, empty lines included.")

    @Option(name: .long, help: "Model folder holding vocab.json + merges.txt or tokenizer.json.")
    var model: String

    @Argument(help: "Texts to tokenize.")
    var texts: [String] = []

    func run() throws {
        try reportingErrors {
            guard let tokenizer = try CLIPTokenizer.inDirectory((model as NSString).expandingTildeInPath) else {
                throw EngineError(.io, "no tokenizer files (vocab.json + merges.txt, or tokenizer.json) in the model folder", path: model)
            }
            var inputs = texts
            if inputs.isEmpty {
                let data = FileHandle.standardInput.readDataToEndOfFile()
                guard let text = String(data: data, encoding: .utf8) else { throw EngineError(.format, "standard input is not UTF-8") }
                var lines = text.components(separatedBy: "\n")
                if lines.last == "" { lines.removeLast() }
                inputs = lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
            }
            var out = ""
            for t in inputs { out += tokenizer.encode(t).map(String.init).joined(separator: " ") + "\n" }
            FileHandle.standardOutput.write(Data(out.utf8))
        }
    }
}

struct EncodeTexts: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode-texts",
        abstract: "Projected text embeddings (not normalised) as a float32 .npy of shape (N, D).")

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "Output .npy file.")
    var out: String

    @Argument(help: "Texts to encode.")
    var texts: [String]

    func run() throws {
        try reportingErrors {
            let clip = try model.load()
            guard let tokenizer = clip.tokenizer else { throw EngineError(.io, "the model folder has no tokenizer files", path: clip.source) }
            let ids = texts.map(tokenizer.encode)
            let features = try clip.encodeTexts(ids)
            try NPY.write(features, shape: [texts.count, clip.config.embedDim], to: out)
        }
    }
}
