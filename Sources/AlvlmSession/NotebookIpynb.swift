import AlvlmEngine
import Foundation

extension NotebookRunner {
    /// The notebook with an `injected-parameters` cell after the parameters cell when parameters were given.
    public func notebookWithParameters() -> Notebook {
        var cells = notebook.cells
        if !injected.isEmpty {
            let source = injected.map { "\($0.0) = \($0.1)" }.joined(separator: "\n")
            let cell = Notebook.Cell(kind: .code, source: source, tags: ["injected-parameters"], id: "injected-parameters", line: 0)
            cells.insert(cell, at: (cells.firstIndex { $0.tags.contains("parameters") }).map { $0 + 1 } ?? 0)
        }
        return Notebook(cells: cells)
    }
}

extension Notebook {
    /// nbformat 4.5 without outputs, for the alvlm kernel. A cell that expects an error (`# expect error:`) is
    /// tagged `raises-exception`, so that Jupyter's runners go on past it as `alvlm run` does.
    public func ipynb(title: String) throws -> Data {
        let cells: [[String: Any]] = cells.map { c in
            var tags = c.tags
            if c.expectations.contains(where: { if case .error = $0 { return true } else { return false } }), !tags.contains("raises-exception") {
                tags.append("raises-exception")
            }
            var cell: [String: Any] = ["id": c.id, "metadata": tags.isEmpty ? [:] : ["tags": tags], "source": c.source, "cell_type": c.kind.rawValue]
            if c.kind == .code { cell["outputs"] = []; cell["execution_count"] = NSNull() }
            return cell
        }
        let nb: [String: Any] = ["nbformat": 4, "nbformat_minor": 5, "cells": cells,
                                 "metadata": ["kernelspec": ["name": "alvlm", "display_name": "alvlm", "language": "alvlm"],
                                              "language_info": ["name": "alvlm", "file_extension": ".al", "mimetype": "text/x-alvlm"], "title": title]]
        return try JSONSerialization.data(withJSONObject: nb, options: [.prettyPrinted, .sortedKeys])
    }

    /// Cells of an nbformat 4 notebook (source as a string or a list of lines; outputs ignored).
    public static func fromIpynb(_ data: Data) throws -> Notebook {
        guard let nb = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let raw = nb["cells"] as? [[String: Any]] else {
            throw FormatError(line: 1, message: "not a Jupyter notebook (no cells list)")
        }
        guard (nb["nbformat"] as? Int ?? 4) == 4 else { throw FormatError(line: 1, message: "nbformat \(nb["nbformat"]!) is not supported (4 is)") }
        var used = Set<String>()
        return Notebook(cells: try raw.enumerated().map { i, c in
            let kind: Kind
            switch c["cell_type"] as? String {
            case "code": kind = .code
            case "markdown": kind = .markdown
            case "raw": kind = .raw
            case let other: throw FormatError(line: 1, message: "cell \(i + 1) has an unknown type \(other ?? "(none)")")
            }
            let source = (c["source"] as? String) ?? ((c["source"] as? [String])?.joined() ?? "")
            var id = (c["id"] as? String) ?? "cell-\(i + 1)"
            if !id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) || id.count > 64 || !used.insert(id).inserted {
                id = "cell-\(i + 1)"; used.insert(id)
            }
            let tags = ((c["metadata"] as? [String: Any])?["tags"] as? [String]) ?? []
            for t in tags where t.contains("\"") || t.contains(",") || t.contains("]") {
                throw FormatError(line: 1, message: "cell \(i + 1) has a tag alvlm notebooks cannot hold: \(t)")
            }
            return Cell(kind: kind, source: source, tags: tags, id: id, line: 0)
        })
    }

    /// The percent-format text (what `parse` reads back to the same cells).
    public func text() -> String {
        cells.map { c in
            var marker = "# %%"
            if c.kind == .markdown { marker += " [markdown]" } else if c.kind == .raw { marker += " [raw]" }
            if !c.tags.isEmpty { marker += " tags=[" + c.tags.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
            marker += " id=\"\(c.id)\""
            let body = c.kind == .markdown
                ? c.source.components(separatedBy: "\n").map { $0.isEmpty ? "#" : "# " + $0 }.joined(separator: "\n")
                : c.source
            return marker + "\n" + body + "\n"
        }.joined(separator: "\n")
    }
}
