import Foundation

/// A Jupyter message as it travels (messaging protocol 5.3): routing identities, the `<IDS|MSG>` delimiter, the
/// HMAC-SHA256 signature of the next four frames, then header, parent header, metadata and content as JSON,
/// then optional raw buffers.
public struct Message {
    public var identities: [[UInt8]]
    public var header: [String: Any]
    public var parentHeader: [String: Any]
    public var metadata: [String: Any]
    public var content: [String: Any]
    /// The header frame exactly as received: a reply's parent header (re-serialising could change its bytes).
    public var rawHeader: [UInt8]

    public var type: String { header["msg_type"] as? String ?? "" }
    public var id: String { header["msg_id"] as? String ?? "" }
}

public enum WireError: Error, Equatable, CustomStringConvertible {
    case noDelimiter
    case tooFewFrames(Int)
    case badSignature
    case badJSON(String)

    public var description: String {
        switch self {
        case .noDelimiter: return "no <IDS|MSG> delimiter"
        case .tooFewFrames(let n): return "\(n) frames after the delimiter, 5 needed"
        case .badSignature: return "the signature does not match the key"
        case .badJSON(let frame): return "the \(frame) frame is not a JSON object"
        }
    }
}

/// Signing and framing with one key and one session id.
public struct Wire {
    static let delimiter = Array("<IDS|MSG>".utf8)
    public static let protocolVersion = "5.3"

    let hmac: HMAC?
    public let session: String
    let username: String

    /// An empty key means unsigned messages (the signature frame is empty and is not checked).
    public init(key: String, session: String = UUID().uuidString.lowercased(), username: String = "alvlm") {
        hmac = key.isEmpty ? nil : HMAC(key: Array(key.utf8))
        self.session = session
        self.username = username
    }

    public func decode(_ frames: [[UInt8]]) throws -> Message {
        guard let split = frames.firstIndex(of: Self.delimiter) else { throw WireError.noDelimiter }
        let rest = Array(frames[(split + 1)...])
        guard rest.count >= 5 else { throw WireError.tooFewFrames(rest.count) }
        if let hmac {
            let expected = Array(hmac.hex(Array(rest[1...4])).utf8)
            guard HMAC.equalInConstantTime(expected, rest[0]) else { throw WireError.badSignature }
        }
        func object(_ bytes: [UInt8], _ name: String) throws -> [String: Any] {
            guard let o = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { throw WireError.badJSON(name) }
            return o
        }
        return Message(identities: Array(frames[..<split]), header: try object(rest[1], "header"),
                       parentHeader: try object(rest[2], "parent header"), metadata: try object(rest[3], "metadata"),
                       content: try object(rest[4], "content"), rawHeader: rest[1])
    }

    /// The frames of a new message of `type`, replying to (or caused by) `parent`, routed to `identities`.
    public func encode(_ type: String, content: [String: Any], parent: Message?, identities: [[UInt8]],
                       metadata: [String: Any] = [:]) -> [[UInt8]] {
        let header: [String: Any] = ["msg_id": UUID().uuidString.lowercased(), "session": session, "username": username,
                                     "date": Self.now(), "msg_type": type, "version": Self.protocolVersion]
        let parts = [Self.json(header), parent?.rawHeader ?? Array("{}".utf8), Self.json(metadata), Self.json(content)]
        let signature = hmac.map { Array($0.hex(parts).utf8) } ?? []
        return identities + [Self.delimiter, signature] + parts
    }

    static func json(_ object: [String: Any]) -> [UInt8] {
        // Anything JSONSerialization cannot write (it should never happen) becomes an empty object, never a crash.
        guard JSONSerialization.isValidJSONObject(object), let data = try? JSONSerialization.data(withJSONObject: object) else { return Array("{}".utf8) }
        return [UInt8](data)
    }

    nonisolated(unsafe) static let dateFormatter: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
    static let dateLock = NSLock()
    static func now() -> String { dateLock.lock(); defer { dateLock.unlock() }; return dateFormatter.string(from: Date()) }
}
