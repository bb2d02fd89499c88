import Foundation

/// A float32 (or float16) .npy of shape (rows, rowShape...) written rows at a time, so memory stays that of one block
/// whatever the row count. The rows go to a temporary file beside the destination; `finish()` writes the final row count into
/// a header reserved at the start (padded to the same length), flushes and renames it over the destination, so a
/// failed or cancelled run leaves the previous file (if any) and no partial one. Without `finish()` the temporary
/// file is removed.
public final class NPYRowWriter {
    public let path: String
    public let rowShape: [Int]
    /// `.float32`, or `.float16` (each value rounded as `NPY.encode(float16:shape:)` rounds it).
    public let dtype: NPY.DType
    public private(set) var rows = 0
    private let temp: String
    private var fd: Int32
    private let headerLength: Int

    public init(path: String, rowShape: [Int], dtype: NPY.DType = .float32) throws {
        precondition(rowShape.allSatisfy { $0 > 0 }, "npy rows need a positive shape")
        precondition(dtype == .float32 || dtype == .float16, "npy rows are written as float32 or float16")
        self.path = path; self.rowShape = rowShape; self.dtype = dtype
        let url = URL(fileURLWithPath: path)
        temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(String(UInt64.random(in: .min ... .max), radix: 36))").path
        fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw EngineError(.io, "cannot write file: \(String(cString: strerror(errno)))", path: path) }
        // Room for any row count: the header of the largest one.
        let reserved = NPY.header(dtype: dtype, shape: [Int.max] + rowShape)
        headerLength = reserved.count
        try write(reserved)
    }

    deinit { if fd >= 0 { close(fd); unlink(temp) } }

    /// Appends `count` whole rows.
    public func append(_ values: UnsafePointer<Float>, rows count: Int) throws {
        let n = count * rowShape.reduce(1, *)
        if dtype == .float16 {
            let halves = NPY.halfBits(UnsafeBufferPointer(start: values, count: n))
            try halves.withUnsafeBytes { try write($0) }
        } else {
            try write(UnsafeRawBufferPointer(start: values, count: n * MemoryLayout<Float>.size))
        }
        rows += count
    }

    /// Starts writing what has been appended so far to the disk without waiting for it (Linux; elsewhere nothing),
    /// so that `finish()` has less left to flush.
    public func startFlush() {
        #if os(Linux)
        if let f = Self.syncFileRange { _ = f(fd, 0, 0, 2 /* SYNC_FILE_RANGE_WRITE */) }
        #endif
    }

    #if os(Linux)
    private typealias SyncFileRange = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32
    private static let syncFileRange: SyncFileRange? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range")
        .map { unsafeBitCast($0, to: SyncFileRange.self) }
    #endif

    /// Writes the header with the row count, flushes, and renames the file into place.
    public func finish() throws {
        let header = NPY.header(dtype: dtype, shape: [rows] + rowShape, length: headerLength)
        precondition(header.count == headerLength, "the npy header outgrew its reserved room")
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw failure("seeking") }
        try write(header)
        guard fsync(fd) == 0 else { throw failure("flushing") }
        close(fd); fd = -1
        guard rename(temp, path) == 0 else { let e = failure("renaming"); unlink(temp); throw e }
        syncFolder(URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    private func failure(_ what: String) -> EngineError {
        EngineError(.io, "cannot write file (\(what)): \(String(cString: strerror(errno)))", path: path)
    }

    private func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }

    private func write(_ raw: UnsafeRawBufferPointer) throws {
        var written = 0
        while written < raw.count {
            let r = Foundation.write(fd, raw.baseAddress! + written, raw.count - written)
            if r < 0, errno == EINTR { continue }
            guard r > 0 else { throw failure("writing") }
            written += r
        }
    }
}
