import AlvlmEngine
import AlvlmJupyter
import ArgumentParser
import Foundation

/// `alvlm kernel`: the Jupyter kernel (`-f CONNECTION_FILE`, as a client starts it) and its kernelspec.
struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "alvlm as a Jupyter kernel: run it (-f CONNECTION_FILE), or install/uninstall its kernelspec.",
        subcommands: [KernelRun.self, KernelInstall.self, KernelUninstall.self],
        defaultSubcommand: KernelRun.self)
}

struct KernelRun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Serve a Jupyter client (it passes the connection file).")

    @Option(name: .customShort("f"), help: "The connection file written by the Jupyter client.") var connectionFile: String

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        // Interrupts in "signal" mode (and a stray Ctrl-C) only ask running work to stop, as in the REPL.
        signal(SIGINT) { _ in sigintFlag = 1 }
        do {
            let connection = try Connection.read(connectionFile)
            let backend = try JupyterSession()
            let kernel = try Kernel(connection: connection, backend: backend) { FileHandle.standardError.write(Data("alvlm kernel: \($0)\n".utf8)) }
            kernel.backendInterrupted = { sigintFlag != 0 }
            kernel.run()
        } catch let e as KernelError {
            FileHandle.standardError.write(Data("alvlm: error: \(e)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Where a kernelspec goes: the user's Jupyter data folder, a prefix's, or the active virtual environment's.
struct KernelspecLocation: ParsableArguments {
    @Flag(name: .long, help: "The user's Jupyter folder ($JUPYTER_DATA_DIR or ~/.local/share/jupyter; the default).") var user = false
    @Option(name: .long, help: "Under PREFIX/share/jupyter/kernels.") var prefix: String?
    @Flag(name: .long, help: "The active virtual environment's ($VIRTUAL_ENV) share/jupyter/kernels.") var sysPrefix = false
    @Option(name: .long, help: "The kernelspec's name.") var name = "alvlm"

    func directory() throws -> String {
        guard [user, prefix != nil, sysPrefix].filter({ $0 }).count <= 1 else {
            throw ValidationError("give one of --user, --prefix and --sys-prefix")
        }
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }) else {
            throw ValidationError("a kernelspec name has ASCII letters, digits, -, . and _ only, not \(name)")
        }
        let env = ProcessInfo.processInfo.environment
        let base: String
        if let prefix {
            base = ((prefix as NSString).expandingTildeInPath as NSString).appendingPathComponent("share/jupyter")
        } else if sysPrefix {
            guard let venv = env["VIRTUAL_ENV"], !venv.isEmpty else { throw ValidationError("--sys-prefix needs an active virtual environment (VIRTUAL_ENV); or give --prefix") }
            base = (venv as NSString).appendingPathComponent("share/jupyter")
        } else {
            base = env["JUPYTER_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/share/jupyter")
        }
        return ((base as NSString).appendingPathComponent("kernels") as NSString).appendingPathComponent(name.lowercased())
    }
}

struct KernelInstall: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "install", abstract: "Write the kernelspec (kernel.json naming this binary) and print where.")
    @OptionGroup var location: KernelspecLocation
    @Option(name: .long, help: "The name shown in Jupyter's launcher.") var displayName = "alvlm"

    func run() throws {
        let dir = try location.directory()
        let spec: [String: Any] = ["argv": [executablePath(), "kernel", "-f", "{connection_file}"], "display_name": displayName,
                                   "language": "alvlm", "interrupt_mode": "message", "metadata": [:]]
        try reportingErrors {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw EngineError(.io, "cannot create the kernelspec folder", path: dir)
            }
            try writeAtomically(try JSONSerialization.data(withJSONObject: spec, options: [.prettyPrinted, .sortedKeys]), to: dir + "/kernel.json")
        }
        print("installed the \(location.name) kernelspec in \(dir)")
    }

    /// This binary's absolute path (clients start it from anywhere).
    func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }
}

struct KernelUninstall: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "uninstall", abstract: "Remove the kernelspec written by install.")
    @OptionGroup var location: KernelspecLocation

    func run() throws {
        let dir = try location.directory()
        guard FileManager.default.fileExists(atPath: dir + "/kernel.json") else {
            FileHandle.standardError.write(Data("alvlm: error: \(dir): no kernelspec there\n".utf8))
            throw ExitCode(1)
        }
        try FileManager.default.removeItem(atPath: dir)
        print("removed \(dir)")
    }
}
