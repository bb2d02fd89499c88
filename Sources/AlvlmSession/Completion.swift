import AlvlmLanguage
import Foundation

/// Tab completion: variables, builtins, keywords, members after `name.`, and file paths inside strings.
public enum Completion {
    /// Candidates for the word `prefix`, given the text before it on the line.
    public static func candidates(before: String, prefix: String, session: Session) -> [String] {
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

    public static func paths(_ prefix: String) -> [String] {
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
