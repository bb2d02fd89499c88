import AlvlmEngine
import AlvlmLanguage
import Foundation

extension NotebookRunner.Report {
    /// What happened, for the front matter: ok; failed at cell N; errors allowed in cells N, M; and with --check,
    /// the cells whose expectations did not hold.
    var status: String {
        var parts: [String] = []
        if let failure {
            parts.append(allowErrors ? "errors allowed in cell\(errorCells.count == 1 ? "" : "s") " + errorCells.map(String.init).joined(separator: ", ")
                                     : "failed at cell \(failure.cell)")
        }
        if check, !mismatchCells.isEmpty {
            parts.append("expectation mismatch in cell\(mismatchCells.count == 1 ? "" : "s") " + mismatchCells.map(String.init).joined(separator: ", "))
        }
        return parts.isEmpty ? "ok" : parts.joined(separator: "; ")
    }

    /// Markdown with front matter; figures copied to a report-specific `NAME_files/` folder. Written atomically:
    /// the folder and the file are built under temporary names and renamed into place.
    public func writeMarkdown(to output: String) throws {
        let base = (output as NSString).deletingPathExtension
        let filesName = (base as NSString).lastPathComponent + "_files"
        let filesDir = base + "_files"
        var md = "---\nnotebook: \(path)\nstarted: \(ISO8601DateFormatter().string(from: started))\nseconds: \(String(format: "%.2f", seconds))\n"
        md += "parameters:\(parameters.isEmpty ? " {}" : "")\n" + parameters.map { "  \($0.0): \($0.1)\n" }.joined()
        md += provenance.map { "\($0.0):" + ($0.1.hasPrefix("\n") ? "" : " ") + "\($0.1)\n" }.joined()
        md += "status: \(status)\n---\n\n"
        var code = 0
        var figures: [(name: String, source: String)] = []
        for r in results {
            switch r.cell.kind {
            case .markdown: md += r.cell.source + "\n\n"
            case .raw: md += "```\n\(r.cell.source)\n```\n\n"
            case .code:
                code += 1
                let tag = r.cell.tags.contains("injected-parameters") ? " (injected parameters)" : ""
                md += "```alvlm\n# cell \(code)\(tag)\n\(r.cell.source)\n```\n\n"
                if !r.executed { md += "*(not run)*\n\n"; continue }
                if !r.output.isEmpty { md += "```text\n\(r.output)```\n\n" }
                for (k, fig) in r.figures.enumerated() {
                    let name = "cell-\(code)-\(k + 1).png"
                    figures.append((name, fig))
                    md += "![cell \(code) figure \(k + 1)](\(filesName)/\(name))\n\n"
                }
                if let e = r.error { md += "```text\n\(e)\n```\n\n" }
                md += String(format: "*cell %d: %.2f s*\n\n", code, r.seconds)
            }
        }
        // The figures into a temporary folder, then the report; only when both are written does the folder take the
        // old one's place. A full disk or a read-only folder leaves the previous report and its figures as they were.
        guard !figures.isEmpty else { return try writeAtomically(Data(md.utf8), to: output) }
        let fm = FileManager.default
        let tempDir = filesDir + ".tmp-\(getpid())"
        try? fm.removeItem(atPath: tempDir)
        guard mkdir(tempDir, 0o755) == 0 else {
            throw EngineError(.io, "cannot create the report's figure folder: \(String(cString: strerror(errno)))", path: tempDir)
        }
        do {
            for f in figures {
                guard let data = fm.contents(atPath: f.source) else { throw EngineError(.io, "cannot read a figure", path: f.source) }
                try writeAtomically(data, to: (tempDir as NSString).appendingPathComponent(f.name), durable: false)
            }
            try writeAtomically(Data(md.utf8), to: output)
        } catch {
            try? fm.removeItem(atPath: tempDir)
            throw error
        }
        try? fm.removeItem(atPath: filesDir)
        guard rename(tempDir, filesDir) == 0 else {
            throw EngineError(.io, "cannot put the report's figures in place: \(String(cString: strerror(errno)))", path: filesDir)
        }
    }

    /// nbformat 4.5: every cell with an id, code cells with outputs (stream text, display_data PNG base64, error).
    public func writeIpynb(to output: String) throws {
        var count = 0
        let cells: [[String: Any]] = results.map { r in
            var cell: [String: Any] = ["id": r.cell.id, "metadata": r.cell.tags.isEmpty ? [:] : ["tags": r.cell.tags], "source": r.cell.source]
            switch r.cell.kind {
            case .markdown: cell["cell_type"] = "markdown"
            case .raw: cell["cell_type"] = "raw"
            case .code:
                cell["cell_type"] = "code"
                var outputs: [[String: Any]] = []
                if r.executed {
                    count += 1
                    cell["execution_count"] = count
                    if !r.output.isEmpty { outputs.append(["output_type": "stream", "name": "stdout", "text": r.output]) }
                    for fig in r.figures {
                        if let data = FileManager.default.contents(atPath: fig) {
                            outputs.append(["output_type": "display_data", "data": ["image/png": data.base64EncodedString()], "metadata": [:]])
                        }
                    }
                    if let e = r.error {
                        outputs.append(["output_type": "error", "ename": "AlvlmError", "evalue": e.components(separatedBy: "\n").first ?? e,
                                        "traceback": e.components(separatedBy: "\n")])
                    }
                } else {
                    cell["execution_count"] = NSNull()
                }
                cell["outputs"] = outputs
            }
            return cell
        }
        let nb: [String: Any] = ["nbformat": 4, "nbformat_minor": 5, "cells": cells,
                                 "metadata": ["kernelspec": ["name": "alvlm", "display_name": "alvlm", "language": "alvlm"],
                                              "language_info": ["name": "alvlm"], "title": (path as NSString).lastPathComponent]]
        try writeAtomically(try JSONSerialization.data(withJSONObject: nb, options: [.prettyPrinted, .sortedKeys]), to: output)
    }
}
