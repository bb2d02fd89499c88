import CGnuplotIO
import Foundation

/// The gnuplot-iostream session behind `CGnuplotIO`: script text and binary tables written to a file
/// descriptor (a pipe to gnuplot, or a file when a copy of the stream is kept). Every failure is a `PlotError`.
final class GnuplotStream {
    private var session: OpaquePointer?

    /// Takes ownership of `fd`.
    init(fd: Int32) throws {
        var error = [CChar](repeating: 0, count: 512)
        guard let s = gpio_open(fd, &error, error.count) else { throw PlotError.gnuplot(String(cString: error)) }
        session = s
    }

    deinit { if let session { gpio_close(session, nil, 0) } }

    func send(_ text: String) throws {
        var text = text
        try call { session, error, capacity in
            text.withUTF8 { gpio_send_text(session, $0.baseAddress, $0.count, error, capacity) }
        }
    }

    /// ` format='%double%double' record=(N) `, to follow `'-' binary`.
    func format(_ table: DataTable) throws -> String {
        var out = [CChar](repeating: 0, count: 256)
        try withTable(table) { session, t, error, capacity in gpio_binary_format(session, t, &out, out.count, error, capacity) }
        return String(cString: out)
    }

    func sendBinary(_ table: DataTable) throws {
        try withTable(table) { session, t, error, capacity in gpio_send_binary(session, t, error, capacity) }
    }

    /// Writes the table to `path` and returns its data reference (` 'path' binary format=... record=(N) `).
    func writeFile(_ table: DataTable, path: String) throws -> String {
        var out = [CChar](repeating: 0, count: 4096 + 256)
        try withTable(table) { session, t, error, capacity in gpio_write_binary_file(session, t, path, &out, out.count, error, capacity) }
        return String(cString: out)
    }

    /// Flushes and closes (gnuplot sees the end of its input).
    func close() throws {
        guard let s = session else { return }
        session = nil
        var error = [CChar](repeating: 0, count: 512)
        if gpio_close(s, &error, error.count) != 0 { throw PlotError.gnuplot(String(cString: error)) }
    }

    private func call(_ body: (OpaquePointer, UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
        guard let session else { throw PlotError.gnuplot("the gnuplot session is closed") }
        var error = [CChar](repeating: 0, count: 512)
        let status = error.withUnsafeMutableBufferPointer { body(session, $0.baseAddress!, $0.count) }
        if status != 0 { throw PlotError.gnuplot(String(cString: error)) }
    }

    private func withTable(_ table: DataTable, _ body: (OpaquePointer, UnsafePointer<gpio_table>, UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
        try table.values.withUnsafeBufferPointer { values in
            let columns: [UnsafeRawPointer?] = (0..<table.columnCount).map { UnsafeRawPointer(values.baseAddress! + $0 * table.rows) }
            try columns.withUnsafeBufferPointer { pointers in
                var t = gpio_table(columns: pointers.baseAddress, column_count: pointers.count, rows: table.rows, element: GPIO_FLOAT64)
                try call { session, error, capacity in body(session, &t, error, capacity) }
            }
        }
    }
}

extension PlotProgram {
    /// Sends the program: the setup, the plot command with a data reference per layer (inline, or a file in
    /// `dataDirectory` for tables that several layers draw), the inline tables in order, the finish.
    func send(to stream: GnuplotStream, dataDirectory: () throws -> String) throws {
        try stream.send(setup)
        let uses = self.uses
        var references: [Int: String] = [:]
        var inline: [Int] = []
        for (i, table) in tables.enumerated() where uses[i] > 1 {
            let path = (try dataDirectory() as NSString).appendingPathComponent("table-\(i).bin")
            references[i] = try stream.writeFile(table, path: path)
        }
        var clauses: [String] = []
        for layer in layers {
            if let file = references[layer.table] {
                clauses.append(file + layer.clause)
            } else {
                clauses.append("'-' binary" + (try stream.format(tables[layer.table])) + layer.clause)
                inline.append(layer.table)
            }
        }
        try stream.send("plot " + clauses.joined(separator: ", \\\n     ") + "\n")
        for t in inline { try stream.sendBinary(tables[t]) }
        try stream.send(finish)
    }
}
