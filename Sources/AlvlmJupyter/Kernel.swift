import CZeroMQ
import Foundation

/// What the kernel runs: a language with its state. `execute` runs on the shell thread; `interrupt` comes from
/// the control thread or a signal and only asks (the backend stops at its next poll).
public protocol KernelBackend: AnyObject {
    var info: KernelInfo { get }
    func execute(_ code: String, in cell: CellContext) -> ExecuteOutcome
    /// Completions for the text before `cursor` (in Unicode scalars): the matches and the range they replace.
    func complete(_ code: String, cursor: Int) -> (matches: [String], start: Int, end: Int)
    /// Help for the name at `cursor`, as plain text; nil when there is none.
    func inspect(_ code: String, cursor: Int) -> String?
    func isComplete(_ code: String) -> CompletenessStatus
    func interrupt()
}

public struct KernelInfo {
    public var implementation: String
    public var version: String
    public var language: String
    public var fileExtension: String
    public var mimetype: String
    public var banner: String
    public init(implementation: String, version: String, language: String, fileExtension: String, mimetype: String, banner: String) {
        self.implementation = implementation; self.version = version; self.language = language
        self.fileExtension = fileExtension; self.mimetype = mimetype; self.banner = banner
    }
}

public enum ExecuteOutcome {
    case ok
    case error(name: String, value: String, traceback: [String])
}

public enum CompletenessStatus: String { case complete, incomplete, invalid, unknown }

/// One execution's outputs: streams are batched and flushed before anything else is published, so the order a
/// notebook shows is the order things happened.
public final class CellContext {
    let kernel: Kernel
    let request: Message
    public let executionCount: Int
    public let allowStdin: Bool
    let silent: Bool
    private var pending: (name: String, text: String)?
    /// The text of the last value shown, kept in the history.
    var lastResult: String?
    private var lastFlush = Date()

    init(kernel: Kernel, request: Message, executionCount: Int) {
        self.kernel = kernel; self.request = request; self.executionCount = executionCount
        allowStdin = request.content["allow_stdin"] as? Bool ?? false
        silent = request.content["silent"] as? Bool ?? false
    }

    /// Text on stdout or stderr; sent in batches (at most every 0.1 s) rather than one message per line.
    public func stream(_ name: String, _ text: String) {
        guard !silent, !text.isEmpty else { return }
        if let p = pending, p.name != name { flush() }
        pending = (name, (pending?.text ?? "") + text)
        if Date().timeIntervalSince(lastFlush) >= 0.1 { flush() }
    }

    public func flush() {
        lastFlush = Date()
        guard let p = pending else { return }
        pending = nil
        kernel.publish("stream", ["name": p.name, "text": p.text], parent: request)
    }

    /// A rich output: `data` maps MIME types to content (PNG as base64).
    public func display(_ data: [String: Any], metadata: [String: Any] = [:]) {
        guard !silent else { return }
        flush()
        kernel.publish("display_data", ["data": data, "metadata": metadata], parent: request)
    }

    /// A value the cell evaluated to (`Out[n]`).
    public func result(_ data: [String: Any]) {
        lastResult = data["text/plain"] as? String
        guard !silent else { return }
        flush()
        kernel.publish("execute_result", ["execution_count": executionCount, "data": data, "metadata": [:]], parent: request)
    }

    /// Asks the person at the notebook (an `input_request` on stdin); nil when the client does not allow input,
    /// on interrupt or shutdown.
    public func input(_ prompt: String, password: Bool = false) -> String? {
        guard allowStdin else { return nil }
        flush()
        return kernel.input(prompt, password: password, request: request)
    }
}

/// A Jupyter kernel on ZeroMQ: shell on the calling thread, control and heartbeat on their own threads, IOPub
/// shared under a lock.
public final class Kernel {
    let wire: Wire
    let backend: KernelBackend
    let context: UnsafeMutableRawPointer
    let shell: Socket, control: Socket, stdin: Socket, iopub: Socket, heartbeat: Socket
    let iopubLock = NSLock()
    let stateLock = NSLock()
    private var shuttingDown = false
    private var executionCount = 0
    /// Executed inputs with the text of their last `Out[n]`, for history requests.
    private var history: [(count: Int, code: String, output: String?)] = []
    private let log: (String) -> Void

    public init(connection: Connection, backend: KernelBackend, log: @escaping (String) -> Void) throws {
        wire = Wire(key: connection.key)
        self.backend = backend
        self.log = log
        guard let ctx = zmq_ctx_new() else { throw KernelError.zmq("context", errno) }
        context = ctx
        shell = try Socket(context: ctx, type: ZMQ_ROUTER, bind: connection.endpoint(connection.shellPort))
        control = try Socket(context: ctx, type: ZMQ_ROUTER, bind: connection.endpoint(connection.controlPort))
        stdin = try Socket(context: ctx, type: ZMQ_ROUTER, bind: connection.endpoint(connection.stdinPort))
        iopub = try Socket(context: ctx, type: ZMQ_PUB, bind: connection.endpoint(connection.iopubPort))
        heartbeat = try Socket(context: ctx, type: ZMQ_REP, bind: connection.endpoint(connection.heartbeatPort))
    }

    var isShuttingDown: Bool { stateLock.lock(); defer { stateLock.unlock() }; return shuttingDown }

    /// Serves until a shutdown request; then closes every socket (sending what is queued) and returns.
    public func run() {
        let hb = Thread { [heartbeat] in
            zmq_proxy(heartbeat.handle, heartbeat.handle, nil)   // echoes until the context terminates
            heartbeat.close()
        }
        hb.start()
        let controlDone = DispatchSemaphore(value: 0)
        let controlThread = Thread { [self] in
            while !isShuttingDown {
                guard control.wait(milliseconds: 100), let frames = control.receive() else { continue }
                handle(frames, on: control)
            }
            controlDone.signal()
        }
        controlThread.start()
        publish("status", ["execution_state": "starting"], parent: nil)
        while !isShuttingDown {
            guard shell.wait(milliseconds: 100), let frames = shell.receive() else { continue }
            handle(frames, on: shell)
        }
        controlDone.wait()
        shell.close(); control.close(); stdin.close(); iopub.close()
        zmq_ctx_shutdown(context)
        zmq_ctx_term(context)
    }

    func handle(_ frames: [[UInt8]], on socket: Socket) {
        let message: Message
        do { message = try wire.decode(frames) } catch {
            log("dropped a message: \(error)")
            return
        }
        publish("status", ["execution_state": "busy"], parent: message)
        defer { publish("status", ["execution_state": "idle"], parent: message) }
        switch message.type {
        case "kernel_info_request": reply(message, on: socket, kernelInfo())
        case "execute_request": execute(message, on: socket)
        case "complete_request":
            let code = message.content["code"] as? String ?? ""
            let cursor = message.content["cursor_pos"] as? Int ?? code.unicodeScalars.count
            let c = backend.complete(code, cursor: cursor)
            reply(message, on: socket, ["status": "ok", "matches": c.matches, "cursor_start": c.start, "cursor_end": c.end, "metadata": [:]])
        case "inspect_request":
            let code = message.content["code"] as? String ?? ""
            let text = backend.inspect(code, cursor: message.content["cursor_pos"] as? Int ?? code.unicodeScalars.count)
            reply(message, on: socket, ["status": "ok", "found": text != nil, "data": text.map { ["text/plain": $0] } ?? [:], "metadata": [:]])
        case "is_complete_request":
            let status = backend.isComplete(message.content["code"] as? String ?? "")
            reply(message, on: socket, status == .incomplete ? ["status": status.rawValue, "indent": ""] : ["status": status.rawValue])
        case "history_request": reply(message, on: socket, ["status": "ok", "history": historyReply(message.content)])
        case "comm_info_request": reply(message, on: socket, ["status": "ok", "comms": [:]])
        case "interrupt_request":
            backend.interrupt()
            reply(message, on: socket, ["status": "ok"])
        case "shutdown_request":
            let restart = message.content["restart"] as? Bool ?? false
            reply(message, on: socket, ["status": "ok", "restart": restart])
            stateLock.lock(); shuttingDown = true; stateLock.unlock()
            backend.interrupt()
            // A cell that never polls must not keep the kernel alive: the reply is on its way by then.
            DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) { _exit(0) }
        default:
            log("ignored a \(message.type)")
        }
    }

    func kernelInfo() -> [String: Any] {
        let i = backend.info
        return ["status": "ok", "protocol_version": Wire.protocolVersion, "implementation": i.implementation,
                "implementation_version": i.version, "banner": i.banner, "help_links": [],
                "language_info": ["name": i.language, "version": i.version, "mimetype": i.mimetype,
                                  "file_extension": i.fileExtension, "pygments_lexer": "text"]]
    }

    func execute(_ request: Message, on socket: Socket) {
        let code = request.content["code"] as? String ?? ""
        let silent = request.content["silent"] as? Bool ?? false
        let store = (request.content["store_history"] as? Bool ?? true) && !silent
        if store { executionCount += 1 }
        if !silent { publish("execute_input", ["code": code, "execution_count": executionCount], parent: request) }
        let cell = CellContext(kernel: self, request: request, executionCount: executionCount)
        let outcome = backend.execute(code, in: cell)
        cell.flush()
        if store { history.append((executionCount, code, cell.lastResult)) }
        switch outcome {
        case .ok:
            reply(request, on: socket, ["status": "ok", "execution_count": executionCount, "payload": [], "user_expressions": [:]])
        case let .error(name, value, traceback):
            if !silent { publish("error", ["ename": name, "evalue": value, "traceback": traceback], parent: request) }
            reply(request, on: socket, ["status": "error", "execution_count": executionCount, "ename": name, "evalue": value, "traceback": traceback])
            if request.content["stop_on_error"] as? Bool ?? true { abortQueued(on: socket) }
        }
    }

    /// After an error, execute requests already waiting are answered "aborted" (a "Run all" stops there).
    func abortQueued(on socket: Socket) {
        while socket.wait(milliseconds: 0), let frames = socket.receive() {
            guard let m = try? wire.decode(frames) else { continue }
            guard m.type == "execute_request" else { handle(frames, on: socket); continue }
            publish("status", ["execution_state": "busy"], parent: m)
            reply(m, on: socket, ["status": "aborted", "execution_count": executionCount])
            publish("status", ["execution_state": "idle"], parent: m)
        }
    }

    /// Entries `[session, line, input]`, or `[session, line, [input, output]]` when outputs are asked for.
    func historyReply(_ content: [String: Any]) -> [[Any]] {
        let withOutput = content["output"] as? Bool ?? false
        func entry(_ h: (count: Int, code: String, output: String?)) -> [Any] {
            [0, h.count, withOutput ? [h.code, h.output ?? NSNull()] as [Any] : h.code]
        }
        switch content["hist_access_type"] as? String ?? "tail" {
        case "range":
            let start = content["start"] as? Int ?? 0, stop = content["stop"] as? Int ?? Int.max
            return history.filter { $0.count >= start && $0.count < stop }.map(entry)
        case "search":
            let pattern = content["pattern"] as? String ?? "*"
            var matching = history.filter { fnmatch(pattern, $0.code, 0) == 0 }
            if content["unique"] as? Bool ?? false {
                var seen = Set<String>()
                matching = matching.reversed().filter { seen.insert($0.code).inserted }.reversed()
            }
            var found = matching.map(entry)
            if let n = content["n"] as? Int, n >= 0 { found = Array(found.suffix(n)) }
            return found
        default:
            let n = content["n"] as? Int ?? 10
            return history.suffix(max(0, n)).map(entry)
        }
    }

    func reply(_ request: Message, on socket: Socket, _ content: [String: Any]) {
        let type = request.type.hasSuffix("_request") ? String(request.type.dropLast(8)) + "_reply" : request.type + "_reply"
        socket.send(wire.encode(type, content: content, parent: request, identities: request.identities))
    }

    func publish(_ type: String, _ content: [String: Any], parent: Message?) {
        let topic = Array("kernel.\(wire.session).\(type)".utf8)
        let frames = wire.encode(type, content: content, parent: parent, identities: [topic])
        iopubLock.lock(); defer { iopubLock.unlock() }
        iopub.send(frames)
    }

    /// An `input_request` to the client that sent `request`, then its `input_reply` (waiting while not interrupted).
    func input(_ prompt: String, password: Bool, request: Message) -> String? {
        stdin.send(wire.encode("input_request", content: ["prompt": prompt, "password": password], parent: request, identities: request.identities))
        while !isShuttingDown && !backendInterrupted() {
            guard stdin.wait(milliseconds: 100), let frames = stdin.receive() else { continue }
            guard let m = try? wire.decode(frames) else { log("dropped a stdin message"); continue }
            if m.type == "input_reply" { return m.content["value"] as? String ?? "" }
        }
        return nil
    }

    /// Set by the host: whether an interrupt is pending (ends a wait for input).
    public var backendInterrupted: () -> Bool = { false }
}
