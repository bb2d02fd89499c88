import AlvlmEngine
import AlvlmSession
import Foundation

/// The interrupt flag the SIGINT handler sets (an atomic-enough Int32 read by polling loops). The only process
/// state the executable keeps; sessions see it through the closures `attach` gives them.
nonisolated(unsafe) var sigintFlag: Int32 = 0

/// SIGINT only sets a flag; the interpreter and the engine poll it. A second Ctrl-C while the first is still
/// pending kills the process (an escape hatch for code that does not poll).
func installInterruptHandler() {
    signal(SIGINT) { _ in
        if sigintFlag != 0 { signal(SIGINT, SIG_DFL); raise(SIGINT) }
        sigintFlag = 1
    }
}

extension Session {
    /// A session of this process: its settings, cancelled by Ctrl-C.
    static func attached() -> Session {
        let session = Session(settings: .process)
        session.interruptRequested = { sigintFlag != 0 }
        session.resetInterrupt = { sigintFlag = 0 }
        session.executable = SweepCommand.executable
        return session
    }
}

/// The engine's cancellation token answering Ctrl-C in command-line runs.
final class InterruptToken: CancellationToken, @unchecked Sendable {
    override var isCancelled: Bool { super.isCancelled || sigintFlag != 0 }
}
