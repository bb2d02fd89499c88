import AlvlmLanguage

/// A language host that records what is printed, for running the interpreter in-process.
public final class RecordingHost: LanguageHost {
    public var lines: [String] = []
    public var cancelled = false
    public init() {}
    public func print(_ text: String) { lines.append(text) }
    public func progress(_ text: String) {}
    public var isCancelled: Bool { cancelled }
}
