import AlvlmActive
import AlvlmBindings
import AlvlmLanguage
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
        let session = Session()
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

/// SIGINT only sets a flag; the interpreter and the engine poll it. A second Ctrl-C while the first is still
/// pending kills the process (an escape hatch for code that does not poll).
func installInterruptHandler() {
    signal(SIGINT) { _ in
        if interruptRequested != 0 { signal(SIGINT, SIG_DFL); raise(SIGINT) }
        interruptRequested = 1
    }
}

/// The line-edited loop.
struct Interactive {
    let session: Session
    static let historyLimit = 1000
    var historyPath: String { ProcessInfo.processInfo.environment["ALVLM_HISTORY"] ?? (NSHomeDirectory() as NSString).appendingPathComponent(".alvlm_history") }

    func loop() {
        Completion.session = session
        let reader: (String) -> String? = { prompt in
            guard let raw = le_readline(prompt) else { return nil }
            defer { free(raw) }
            return String(cString: raw)
        }
        // Each answer is journaled as it is given (the experiment journals the batch again; replay takes the last).
        Bindings.humanLabeller = { [session] ids, pool in
            let journal = try? LabelJournal(path: Bindings.defaultJournal, createDirectory: true)
            return try session.labelInTerminal(ids, pool, journal: journal, read: reader)
        }
        session.registerLabel(read: reader)
        le_init("alvlm", { line, start, end, word in Completion.complete(line: line, start: start, end: end, word: word) })
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
            interruptRequested = 0
            guard let raw = le_readline(buffer.isEmpty ? "alvlm> " : "   ...> ") else {
                if interruptRequested != 0 { buffer = ""; print(""); continue }   // Ctrl-C at the prompt: drop the line
                print("")
                break
            }
            let line = String(cString: raw)
            free(raw)
            if interruptRequested != 0 { buffer = ""; continue }
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

/// Tab completion: variables, builtins, keywords, members after `name.`, and file paths inside strings.
enum Completion {
    nonisolated(unsafe) static var session: Session?

    static func complete(line: UnsafePointer<CChar>?, start: Int32, end: Int32, word: UnsafePointer<CChar>?) {
        guard let session, let line, let word else { return }
        let text = String(cString: line), prefix = String(cString: word)
        let before = String(text.utf8.prefix(Int(start))).map { String($0) } ?? ""
        for c in candidates(before: before, prefix: prefix, session: session) { le_add_candidate(c) }
    }

    static func candidates(before: String, prefix: String, session: Session) -> [String] {
        // Inside an unterminated string: complete a file path. The editor replaces only the word after the last
        // break character (`/` and `.` among them), so candidates are cut to that word.
        if before.filter({ $0 == "\"" }).count % 2 == 1 {
            let full = String((before + prefix).split(separator: "\"", omittingEmptySubsequences: false).last ?? "")
            let cut = full.count - prefix.count
            return paths(full).map { String($0.dropFirst(cut)) }
        }
        if before.hasSuffix(".") {
            let target = before.dropLast().reversed().prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            let name = String(target.reversed())
            guard let value = session.interpreter.variable(name), case .object(let o) = value,
                  let members = session.registry.members[o.typeName] else { return [] }
            return members.keys.filter { $0.hasPrefix(prefix) }.sorted()
        }
        let names = session.interpreter.variables.map(\.name) + Array(session.registry.builtins.keys) + Array(Lexer.keywords)
        return Set(names).filter { $0.hasPrefix(prefix) }.sorted()
    }

    static func paths(_ prefix: String) -> [String] {
        let expanded = (prefix as NSString).expandingTildeInPath
        let dir = prefix.hasSuffix("/") ? expanded : (expanded as NSString).deletingLastPathComponent
        let base = prefix.hasSuffix("/") ? "" : (expanded as NSString).lastPathComponent
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir) else { return [] }
        let shownDir = prefix.hasSuffix("/") ? prefix : String(prefix.dropLast(base.count))
        return entries.filter { $0.hasPrefix(base) && !$0.hasPrefix(".") }.sorted().map { entry in
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: ((dir.isEmpty ? "." : dir) as NSString).appendingPathComponent(entry), isDirectory: &isDir)
            return shownDir + entry + (isDir.boolValue ? "/" : "")
        }
    }
}
