import AlvlmActive
import AlvlmLanguage
import AlvlmSettings

/// What the engine's builtins need from the program that runs the language, beyond printing: its settings and a
/// person to label images. The REPL, the notebook runner and the Jupyter kernel implement it; a host that does not
/// (a test's recording host) gets this process's settings and no person.
public protocol EngineHost: LanguageHost {
    var settings: Settings { get }
    /// A person who gives answers for training samples (class index per id; ids left out were skipped); nil when
    /// no person is at hand (a script run, a notebook run from the command line).
    var labeller: (([Int], Pool) throws -> [Int: Int])? { get }
    /// The alvlm binary, which local sweep workers run (nil where the host is not that binary: no local workers).
    var executable: String? { get }
}

extension EngineHost {
    public var executable: String? { nil }
}

extension Interpreter {
    /// The host's settings (this process's when the host is not an `EngineHost`).
    var settings: Settings { (host as? EngineHost)?.settings ?? .process }
    /// A person, when the host has one.
    var labeller: (([Int], Pool) throws -> [Int: Int])? { (host as? EngineHost)?.labeller }
    /// The alvlm binary, when the host is it.
    var executable: String? { (host as? EngineHost)?.executable }
}
