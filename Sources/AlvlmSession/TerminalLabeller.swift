import AlvlmActive
import AlvlmBindings
import AlvlmEngine
import AlvlmLanguage
import Foundation

/// Labelling at a terminal (the REPL) or a notebook client that accepts input (Jupyter): one image at a time.
extension Session {
    /// Asks for labels in the terminal: the image path, the class list; a class name, number or unique prefix;
    /// `s` skips, `u` undoes the previous answer. Every answer is journaled before it is used.
    public func labelInTerminal(_ ids: [Int], _ pool: Pool, journal: LabelJournal?, guesses: [[(label: Int, probability: Double)]] = [],
                         read: (String) -> String?) throws -> [Int: Int] {
        print("classes: " + pool.classNames.enumerated().map { "\($0.offset) \($0.element)" }.joined(separator: ", "))
        var answers: [Int: Int] = [:], order: [Int] = []
        var i = 0, shown = -1
        while i < ids.count {
            if isCancelled { throw LanguageError(.interrupted, "interrupted") }
            let id = ids[i]
            // Ids, the image and the model's guesses, once per image; never the file's path, which often names the class.
            if shown != i {
                shown = i
                print("[\(i + 1)/\(ids.count)] id \(id)")
                if let path = pool.sample(id)?.path { showWhileLabelling(path) }
                if i < guesses.count {
                    print("  model guesses: " + guesses[i].map { "\($0.label) \(pool.classNames[$0.label]) \(String(format: "%.0f%%", 100 * $0.probability))" }.joined(separator: ", "))
                }
            }
            guard let line = read("label (name, number, s skip, u undo)> ")?.trimmingCharacters(in: .whitespaces) else { break }
            if line.isEmpty { continue }   // asked again
            if line == "s" { print("  skipped id \(id)"); i += 1; continue }
            if line == "u" {
                if let last = order.popLast() {
                    try journal?.append([(last, -1)], pool: LabelJournal.key(pool), source: "label() undo")
                    answers[last] = nil; i = ids.firstIndex(of: last) ?? i; shown = -1; print("undone: id \(last)")
                }
                continue
            }
            let lower = line.lowercased()
            let matches = pool.classNames.indices.filter { pool.classNames[$0].lowercased().hasPrefix(lower) }
            let label: Int?
            if let n = Int(line), n >= 0, n < pool.classes { label = n }
            else if let exact = pool.classNames.firstIndex(where: { $0.lowercased() == lower }) { label = exact }
            else if matches.count == 1 { label = matches[0] }
            else { label = nil }
            guard let label else {
                print(matches.count > 1 ? "ambiguous: " + matches.map { pool.classNames[$0] }.joined(separator: ", ") : "not a class: \(line)")
                continue
            }
            try journal?.append([(id, label)], pool: LabelJournal.key(pool), source: "label()")
            answers[id] = label; order.append(id)
            print("  id \(id): \(pool.classNames[label])")   // what a number or a prefix resolved to
            i += 1
        }
        return answers
    }

    /// `label(q)`: label a query batch in the terminal (interactive REPL only).
    static let labelParameters = [Parameter("query", .instance(QueryObject.self)),
                                  Parameter("journal", .oneOf([.string, .nilValue]), default: .null, "append-only record of every answer (default ~/.cache/alvlm/labels.journal)")]
    static let labelSummary = "label a query batch in the terminal (class name, number or prefix; s skips, u undoes)"

    /// What a run without a person at a terminal says of the builtins that need one.
    public static func needsAPerson(_ what: String) -> String {
        "\(what) needs a person at an interactive terminal (the REPL or a Jupyter notebook); use export/import for files (export(q, \"batch.csv\"), then import(\"answers.csv\", pool))"
    }

    func registerLabel(read: @escaping (String) -> String?) {
        registry.register(Builtin("label", Self.labelParameters, summary: Self.labelSummary) { [unowned self] args, _ in
            let q = args.object("query", as: QueryObject.self)!
            let path = args.has("journal") ? (args.string("journal") as NSString).expandingTildeInPath : self.settings.journal
            let journal = try Bindings.engineCall {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                return try LabelJournal(path: path)
            }
            let answers = try self.labelInTerminal(q.ids, q.pool.pool, journal: journal, guesses: q.guesses, read: read)
            return .list(q.ids.compactMap { id in answers[id].map { .record([("id", .number(Double(id))), ("label", .string(q.pool.pool.classNames[$0]))]) } })
        })
    }

    /// A person answers at this prompt (`read` shows the prompt and returns the line, nil at end of input): for
    /// `label(q)` and for experiments with `oracle: "human"`. Each answer is journaled as it is given (the
    /// experiment journals the batch again; replay takes the last).
    public func labelWith(read: @escaping (String) -> String?) {
        labeller = { [unowned self] ids, pool in
            let journal = try? LabelJournal(path: self.settings.journal, createDirectory: true)
            return try self.labelInTerminal(ids, pool, journal: journal, read: read)
        }
        registerLabel(read: read)
    }
}
