import AlvlmEngine
import ArgumentParser
import Foundation

struct RandomModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "random-model",
        abstract: "Write a random-weight model of a named architecture as a Hugging Face CLIPModel folder.",
        discussion: "For tests and benchmarks without a download; the folder gets CLIP's standard tokenizer files.")

    @Option(name: .long, help: "Architecture: \(CLIPConfig.architectureNames.joined(separator: ", ")).")
    var arch: String

    @Option(name: .long, help: "Seed for the weights.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Output folder.")
    var out: String

    func run() throws {
        try reportingErrors { try CLIPModel.random(arch, seed: seed).save(directory: out) }
    }
}
