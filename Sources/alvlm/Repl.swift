import AlvlmActive
import AlvlmBindings
import AlvlmLanguage
import AlvlmSession
import ArgumentParser
import CLineEdit
import Foundation

struct Repl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "The alvlm language: an interactive prompt, a script file, or -c CODE.",
        discussion: "With no arguments on a terminal: the line-edited REPL (history in ~/.alvlm_history, Tab completes names and members). " +
            "A script on standard input runs without prompts. Exit status 1 on the first error.")

    @Option(name: .customShort("c"), help: "Run this code and exit.") var code: String?
    @Argument(help: "A script file to run.") var script: String?
    @Argument(parsing: .postTerminator, help: "After --: arguments for the script or -c code, as the list `args`.") var scriptArguments: [String] = []

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let session = Session.attached()
        if let code { try runBatch(session, code, name: "-c") ; return }
        if let script {
            guard let data = FileManager.default.contents(atPath: script), let text = String(data: data, encoding: .utf8) else {
                FileHandle.standardError.write(Data("alvlm: error: \(script): cannot read the script (missing, unreadable or not UTF-8)\n".utf8))
                throw ExitCode(1)
            }
            try runBatch(session, text, name: script)
            return
        }
        if isatty(0) == 0 {
            let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            try runBatch(session, text, name: "<stdin>")
            return
        }
        Interactive(session: session).loop()
    }

    func runBatch(_ session: Session, _ source: String, name: String) throws {
        installInterruptHandler()
        session.interpreter.setVariable("args", .list(scriptArguments.map { .string($0) }))
        if let e = session.evaluate(source, name: name) {
            FileHandle.standardError.write(Data((e.render(source: source, name: name) + "\n").utf8))
            throw ExitCode(1)
        }
    }
}


/// The line-edited loop.
struct Interactive {
    let session: Session
    static let historyLimit = 1000
    var historyPath: String { session.settings.history }

    func loop() {
        let reader: (String) -> String? = { prompt in
            guard let raw = le_readline(prompt) else { return nil }
            defer { free(raw) }
            return String(cString: raw)
        }
        session.labelWith(read: reader)
        // Tab completion: the C layer hands the session back as its context pointer.
        le_init("alvlm", { context, line, start, end, word in
            guard let context, let line, let word else { return }
            let session = Unmanaged<Session>.fromOpaque(context).takeUnretainedValue()
            let text = String(cString: line), prefix = String(cString: word)
            let before = String(text.utf8.prefix(Int(start))).map { String($0) } ?? ""
            for c in Completion.candidates(before: before, prefix: prefix, session: session) { le_add_candidate(c) }
        }, Unmanaged.passUnretained(session).toOpaque())
        // The history's folder is made if missing; if that fails, one line says history is off.
        let folder = (historyPath as NSString).deletingLastPathComponent
        var historyOn = true
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                historyOn = false
                FileHandle.standardError.write(Data("alvlm: history is off: cannot create \(folder) (\(error.localizedDescription)); ALVLM_HISTORY chooses another file\n".utf8))
            }
        }
        _ = le_read_history(historyPath)   // a missing or foreign file is fine
        installInterruptHandler()
        print("alvlm: active learning for vision-language models. help for help, Ctrl-D to quit.")
        var buffer = ""
        while true {
            sigintFlag = 0
            guard let raw = le_readline(buffer.isEmpty ? "alvlm> " : "   ...> ") else {
                if sigintFlag != 0 { buffer = ""; print(""); continue }   // Ctrl-C at the prompt: drop the line
                print("")
                break
            }
            let line = String(cString: raw)
            free(raw)
            if sigintFlag != 0 { buffer = ""; continue }
            if buffer.isEmpty && line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            buffer += (buffer.isEmpty ? "" : "\n") + line
            do {
                _ = try Parser.parse(Help.rewrite(buffer))
            } catch let e as LanguageError where e.incomplete {
                continue   // ask for more
            } catch {}
            le_add_history(buffer)   // a multi-line input is one entry, as typed
            if let e = session.evaluate(buffer) {
                FileHandle.standardError.write(Data((e.render(source: buffer) + "\n").utf8))
            } else {
                session.accepted.append(buffer)
            }
            buffer = ""
        }
        if historyOn { _ = le_write_history(historyPath, Int32(Self.historyLimit)) }
    }
}
