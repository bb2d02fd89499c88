import AlvlmSettings
import Foundation

/// Reading a text or JSON file someone else made (a notebook, a CSV pool list, an answers export, a split file):
/// its size is checked before anything is read, so a 100 MB cell or a million-row accident is refused with the limit
/// named instead of filling memory. ALVLM_MAX_TEXT_MB raises the limit when the user means it.
public func readInputFile(_ path: String, what: String, limit: Int = Settings.process.maxTextBytes) throws -> Data {
    let full = (path as NSString).expandingTildeInPath
    var st = stat()
    guard stat(full, &st) == 0 else { throw EngineError(.io, "cannot read the \(what): \(String(cString: strerror(errno)))", path: path) }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw EngineError(.io, "the \(what) is not a regular file", path: path) }
    guard Int(st.st_size) <= limit else {
        throw EngineError(.argument, "the \(what) is \(Int(st.st_size) / 1_000_000) MB, over the \(limit / 1_000_000) MB limit for text inputs (ALVLM_MAX_TEXT_MB raises it)", path: path)
    }
    guard let data = FileManager.default.contents(atPath: full) else { throw EngineError(.io, "cannot read the \(what)", path: path) }
    return data
}
