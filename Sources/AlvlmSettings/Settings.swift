import Foundation

/// Everything alvlm takes from its environment, read once when the process starts (`Settings.process`) and passed
/// on from there: no other library looks at environment variables. The README's "Settings" table lists each one.
public struct Settings: Sendable, Equatable {
    /// The base cache folder: $ALVLM_CACHE, else $XDG_CACHE_HOME/alvlm, else ~/.cache/alvlm. Image features,
    /// generated pools and the default label journal all live inside it.
    public var cacheRoot: String
    /// The label journal `label()` appends to unless told otherwise: $ALVLM_JOURNAL, else CACHE/labels.journal.
    public var journal: String
    /// The REPL's line history: $ALVLM_HISTORY, else ~/.alvlm_history.
    public var history: String
    /// Cores for the engine's parallel loops and split matrix products: $ALVLM_CORES (1-256), else the machine's.
    public var cores: Int
    /// ALVLM_KEEP_BLAS_KERNEL=1: keep OpenBLAS's own kernel even where it fell back to a narrower one.
    public var keepBLASKernel: Bool
    /// OPENBLAS_CORETYPE as the user set it (alvlm never changes a forced kernel).
    public var forcedBLASKernel: String?
    /// ALVLM_PLOT_TERMINAL: "sixel" for sixel plots, anything else for gnuplot's text terminal; nil: detect.
    public var plotTerminal: String?
    /// $GNUPLOT, else `gnuplot` searched on `searchPath` ($PATH).
    public var gnuplot: String?
    public var searchPath: String?
    /// The variables terminal detection reads (ALVLM_IMAGES, ALVLM_PLOT_TERMINAL, TERM, TERM_PROGRAM,
    /// KITTY_WINDOW_ID, COLUMNS), as a dictionary for `TerminalImage.detect`.
    public var terminal: [String: String]
    /// $COLUMNS when standard output is not a terminal (the window's width is asked otherwise).
    public var columns: Int?
    /// The largest text or JSON input read whole (notebooks, CSV lists, answer files): $ALVLM_MAX_TEXT_MB, else 64 MB.
    public var maxTextBytes: Int
    /// The most pixels a decoded image may have: $ALVLM_MAX_IMAGE_PIXELS, else Pillow's decompression-bomb limit
    /// (178,956,970); larger images are refused from their header, before their pixels are allocated.
    public var maxImagePixels: Int
    /// The Slurm node this process runs on ($SLURMD_NODENAME, set by slurmd for every job), recorded in sweep results.
    public var slurmNode: String?
    /// Seconds a sweep task waits before it starts ($ALVLM_SWEEP_TASK_DELAY, default 0): holds tasks running, for the
    /// tests that cancel one mid-run.
    public var sweepTaskDelay: Double

    /// The folders inside the cache.
    public var featuresDirectory: String { (cacheRoot as NSString).appendingPathComponent("features") }
    public var poolsDirectory: String { (cacheRoot as NSString).appendingPathComponent("pools") }

    static let terminalVariables = ["ALVLM_IMAGES", "ALVLM_PLOT_TERMINAL", "TERM", "TERM_PROGRAM", "KITTY_WINDOW_ID", "COLUMNS"]

    /// Settings from an environment (`home`: the user's home folder). Empty values count as unset.
    public init(environment: [String: String], home: String = NSHomeDirectory(), processors: Int = ProcessInfo.processInfo.activeProcessorCount) {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        func expanded(_ path: String) -> String {
            path == "~" ? home : path.hasPrefix("~/") ? (home as NSString).appendingPathComponent(String(path.dropFirst(2))) : path
        }
        cacheRoot = value("ALVLM_CACHE").map(expanded)
            ?? value("XDG_CACHE_HOME").map { (expanded($0) as NSString).appendingPathComponent("alvlm") }
            ?? (home as NSString).appendingPathComponent(".cache/alvlm")
        journal = value("ALVLM_JOURNAL").map(expanded) ?? (cacheRoot as NSString).appendingPathComponent("labels.journal")
        history = value("ALVLM_HISTORY").map(expanded) ?? (home as NSString).appendingPathComponent(".alvlm_history")
        if let text = value("ALVLM_CORES"), let n = Int(text), (1...256).contains(n) { cores = n } else { cores = max(1, processors) }
        keepBLASKernel = value("ALVLM_KEEP_BLAS_KERNEL") == "1"
        forcedBLASKernel = value("OPENBLAS_CORETYPE")
        plotTerminal = value("ALVLM_PLOT_TERMINAL")
        gnuplot = value("GNUPLOT")
        searchPath = value("PATH")
        terminal = environment.filter { Self.terminalVariables.contains($0.key) }
        columns = value("COLUMNS").flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil }
        maxImagePixels = value("ALVLM_MAX_IMAGE_PIXELS").flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil } ?? 178_956_970
        slurmNode = value("SLURMD_NODENAME")
        sweepTaskDelay = value("ALVLM_SWEEP_TASK_DELAY").flatMap(Double.init).flatMap { $0 > 0 && $0 < 3600 ? $0 : nil } ?? 0
        maxTextBytes = (value("ALVLM_MAX_TEXT_MB").flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil } ?? 64) * 1_000_000
    }

    /// This process's settings, read from its environment the first time they are asked for.
    public static let process = Settings(environment: ProcessInfo.processInfo.environment)
}
