import Foundation

/// The connection file a Jupyter client writes before starting a kernel: where to bind and the signing key.
public struct Connection: Equatable {
    public var transport: String
    public var ip: String
    public var shellPort: Int
    public var controlPort: Int
    public var stdinPort: Int
    public var iopubPort: Int
    public var heartbeatPort: Int
    public var key: String

    public static func read(_ path: String) throws -> Connection {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KernelError.connectionFile("\(path): cannot read the connection file")
        }
        return try parse(data, name: path)
    }

    public static func parse(_ data: Data, name: String = "connection file") throws -> Connection {
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw KernelError.connectionFile("\(name): not a JSON object")
        }
        func port(_ key: String) throws -> Int {
            guard let p = o[key] as? Int, (1...65535).contains(p) else { throw KernelError.connectionFile("\(name): \(key) is missing or not a port") }
            return p
        }
        let scheme = o["signature_scheme"] as? String ?? "hmac-sha256"
        guard scheme == "hmac-sha256" else { throw KernelError.connectionFile("\(name): signature scheme \(scheme) is not supported (hmac-sha256 is)") }
        let transport = o["transport"] as? String ?? "tcp"
        guard transport == "tcp" || transport == "ipc" else { throw KernelError.connectionFile("\(name): transport \(transport) is not tcp or ipc") }
        return Connection(transport: transport, ip: o["ip"] as? String ?? "127.0.0.1", shellPort: try port("shell_port"),
                          controlPort: try port("control_port"), stdinPort: try port("stdin_port"), iopubPort: try port("iopub_port"),
                          heartbeatPort: try port("hb_port"), key: o["key"] as? String ?? "")
    }

    public func endpoint(_ port: Int) -> String {
        transport == "ipc" ? "ipc://\(ip)-\(port)" : "tcp://\(ip):\(port)"
    }
}
