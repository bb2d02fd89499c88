import CZeroMQ
import Foundation

/// A ZeroMQ socket used by one thread at a time (ZeroMQ sockets are not thread-safe): multipart send and
/// receive, retried when a signal interrupts the call.
final class Socket {
    let handle: UnsafeMutableRawPointer

    init(context: UnsafeMutableRawPointer, type: Int32, bind endpoint: String) throws {
        guard let h = zmq_socket(context, type) else { throw KernelError.zmq("socket", errno) }
        handle = h
        var linger: Int32 = 1000
        zmq_setsockopt(h, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        guard zmq_bind(h, endpoint) == 0 else {
            let e = errno
            zmq_close(h)
            throw KernelError.zmq("bind \(endpoint)", e)
        }
    }

    func close() { zmq_close(handle) }

    /// All frames of the next message; nil when the context is shutting down.
    func receive() -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            var n: Int32
            repeat { n = zmq_msg_recv(&message, handle, 0) } while n < 0 && errno == EINTR
            guard n >= 0 else { return nil }
            let size = zmq_msg_size(&message)
            if let data = zmq_msg_data(&message), size > 0 {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
            if zmq_msg_more(&message) == 0 { return frames }
        }
    }

    /// Waits up to `milliseconds` for a message to arrive; false on timeout or shutdown.
    func wait(milliseconds: Int) -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        let n = zmq_poll(&item, 1, milliseconds)
        return n > 0 && item.revents & Int16(ZMQ_POLLIN) != 0
    }

    @discardableResult
    func send(_ frames: [[UInt8]]) -> Bool {
        for (i, frame) in frames.enumerated() {
            let flags = i == frames.count - 1 ? Int32(0) : ZMQ_SNDMORE
            var n: Int32
            repeat {
                n = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            } while n < 0 && errno == EINTR
            if n < 0 { return false }
        }
        return true
    }
}

public enum KernelError: Error, CustomStringConvertible {
    case zmq(String, Int32)
    case connectionFile(String)

    public var description: String {
        switch self {
        case let .zmq(what, code): return "ZeroMQ \(what): \(String(cString: zmq_strerror(code)))"
        case let .connectionFile(m): return m
        }
    }
}
