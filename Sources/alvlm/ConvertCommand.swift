import AlvlmEngine
import AlvlmSession
import ArgumentParser
import Foundation

/// `alvlm convert`: notebooks between alvlm's text format and Jupyter's, so that the shipped notebooks open in
/// JupyterLab with the alvlm kernel and a notebook edited there comes back as text.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a notebook: .alnb to .ipynb (alvlm kernelspec, no outputs) or .ipynb to .alnb (outputs dropped).")

    enum Format: String, ExpressibleByArgument, CaseIterable { case ipynb, alnb }

    @Argument(help: "The notebook to convert.") var input: String
    @Option(name: .long, help: "ipynb or alnb.") var to: Format
    @Option(name: .shortAndLong, help: "The file to write (default: the input with the new extension).") var output: String?
    @Option(name: .customShort("p"), parsing: .unconditionalSingleValue, help: "NAME=VALUE: a parameter set in an injected-parameters cell (alnb to ipynb).")
    var parameters: [String] = []

    func run() throws {
        let out = output ?? ((input as NSString).deletingPathExtension + "." + to.rawValue)
        try reportingErrors {
            do {
                switch to {
                case .ipynb:
                    let runner = try NotebookRunner(path: input, overrides: parameters)
                    try writeAtomically(try runner.notebookWithParameters().ipynb(title: (input as NSString).lastPathComponent), to: out)
                case .alnb:
                    guard parameters.isEmpty else { throw EngineError(.argument, "-p applies when converting to ipynb") }
                    guard let data = FileManager.default.contents(atPath: input) else { throw EngineError(.io, "cannot read the notebook", path: input) }
                    try writeAtomically(Data(try Notebook.fromIpynb(data).text().utf8), to: out)
                }
            } catch let e as Notebook.FormatError {
                throw EngineError(.format, "\(e)", path: input)
            }
        }
        FileHandle.standardError.write(Data("alvlm: wrote \(out)\n".utf8))
    }
}
