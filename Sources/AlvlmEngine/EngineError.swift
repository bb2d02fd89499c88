/// Every failure the engine reports: a typed value naming the file (when there is one) and the problem.
public struct EngineError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Equatable {
        case io            // missing, unreadable or unwritable file
        case format        // a file whose bytes are not what they claim
        case model         // weights or config inconsistent with each other
        case image         // undecodable image
        case argument      // a bad value passed by the caller
        case numeric       // NaN/inf where finite numbers are required
        case cancelled     // stopped by a cancellation token
    }
    public let kind: Kind
    public let path: String?
    public let message: String

    public init(_ kind: Kind, _ message: String, path: String? = nil) {
        self.kind = kind
        self.message = message
        self.path = path
    }

    public var description: String {
        if let path { return "\(path): \(message)" }
        return message
    }
}
