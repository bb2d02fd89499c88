import Foundation

/// A gnuplot program on this machine, and drawing through it: the process is ours (exit status, standard
/// error), the stream to it is gnuplot-iostream's (`GnuplotStream`).
public struct Gnuplot: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// `gnuplotPath` when given (the user's `GNUPLOT`), else `gnuplot` on `searchPath`; nil when there is none.
    public static func locate(gnuplotPath: String?, searchPath: String?) -> Gnuplot? {
        if let p = gnuplotPath, !p.isEmpty { return FileManager.default.isExecutableFile(atPath: p) ? Gnuplot(path: p) : nil }
        for dir in (searchPath ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/gnuplot"
            if FileManager.default.isExecutableFile(atPath: p) { return Gnuplot(path: p) }
        }
        return nil
    }

    /// `gnuplot --version` (e.g. "gnuplot 5.4 patchlevel 4"), or nil when it does not answer.
    public func version() -> String? {
        guard let r = try? run(arguments: ["--version"], send: { _ in }), r.status == 0 else { return nil }
        let text = r.output.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// Draws `program`: gnuplot's standard output (the text terminal's picture; empty for files and sixel is
    /// in it too). `copy` keeps every byte sent (script and binary data) in that file, for debugging.
    public func draw(_ program: PlotProgram, copy: String? = nil) throws -> String {
        var directory: String?
        defer { if let directory { try? FileManager.default.removeItem(atPath: directory) } }
        let dataDirectory = { () throws -> String in
            if let directory { return directory }
            let made = try Self.makeTemporaryDirectory()
            directory = made
            return made
        }
        if let copy {
            let fd = open(copy, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            guard fd >= 0 else { throw PlotError.gnuplot("cannot write \(copy): \(String(cString: strerror(errno)))") }
            let stream = try GnuplotStream(fd: fd)
            try program.send(to: stream, dataDirectory: dataDirectory)
            try stream.close()
        }
        let r = try run(arguments: [], send: { try program.send(to: $0, dataDirectory: dataDirectory) })
        let errors = r.errors.trimmingCharacters(in: .whitespacesAndNewlines)
        if let signal = r.signal {
            throw PlotError.gnuplot("gnuplot was killed by signal \(signal)" + (errors.isEmpty ? "" : ": " + errors))
        }
        // gnuplot exits non-zero on errors in a piped script; what it prints otherwise are warnings (such as an
        // empty y range it widened itself), not failures.
        if r.status != 0 {
            throw PlotError.gnuplot("gnuplot failed (exit status \(r.status))" + (errors.isEmpty ? "" : ": " + errors))
        }
        if let sendError = r.sendError {
            throw PlotError.gnuplot("gnuplot stopped before the whole plot was sent (\(sendError))")
        }
        return r.output
    }

    struct Run { var status: Int32; var signal: Int32?; var output: String; var errors: String; var sendError: PlotError? }

    /// Starts gnuplot, hands its standard input to `send` through a gnuplot-iostream session, closes it and waits.
    /// Standard output and error are read while sending, so neither side can block the other.
    func run(arguments: [String], send: (GnuplotStream) throws -> Void) throws -> Run {
        Self.ignoreBrokenPipes()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let input = Pipe(), out = Pipe(), err = Pipe()
        process.standardInput = input; process.standardOutput = out; process.standardError = err
        do { try process.run() } catch {
            throw PlotError.gnuplot("cannot start \(path): \(error.localizedDescription)")
        }
        let readers = DispatchGroup()
        let output = Collected(), errors = Collected()
        DispatchQueue.global().async(group: readers) { output.data = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: readers) { errors.data = err.fileHandleForReading.readDataToEndOfFile() }
        var sendError: PlotError?
        let fd = dup(input.fileHandleForWriting.fileDescriptor)
        try? input.fileHandleForWriting.close()
        do {
            guard fd >= 0 else { throw PlotError.gnuplot("cannot open the pipe to gnuplot: \(String(cString: strerror(errno)))") }
            let stream = try GnuplotStream(fd: fd)
            do { try send(stream) } catch let e as PlotError { sendError = e }
            do { try stream.close() } catch let e as PlotError { sendError = sendError ?? e }
        } catch let e as PlotError {
            sendError = e
        }
        process.waitUntilExit()
        readers.wait()
        let signal = process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil
        return Run(status: signal == nil ? process.terminationStatus : -1, signal: signal,
                   output: String(decoding: output.data, as: UTF8.self), errors: String(decoding: errors.data, as: UTF8.self), sendError: sendError)
    }

    /// What a reader thread collected; read only after the group is waited for.
    final class Collected: @unchecked Sendable { var data = Data() }

    /// A write to a gnuplot that has exited must be an error, not the end of the process.
    static func ignoreBrokenPipes() { signal(SIGPIPE, SIG_IGN) }

    static func makeTemporaryDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("alvlm-plot-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw PlotError.gnuplot("cannot make a folder for plot data: \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }
}
