import AlvlmBindings
import AlvlmEngine
import AlvlmLanguage
import AlvlmPlot
import Foundation

/// Images for people: `show(q)` thumbnail sheets with captions, and the image shown while labelling. Hosts with
/// their own display (notebooks, Jupyter) get PNGs; terminals get kitty, sixel or half-block pictures.
extension Session {
    /// `show(q)`: a captioned thumbnail sheet of a query batch, always written as a PNG whose path is printed.
    func registerShow() {
        registry.register(Builtin("show", [Parameter("query", .instance(QueryObject.self)),
                                           Parameter("to", .oneOf([.string, .nilValue]), default: .null,
                                                     "the PNG to write (default: a temporary file; in notebooks, a figure of the report)"),
                                           Parameter("columns", .integer, default: .number(6))],
                                  summary: "a captioned thumbnail sheet of a query batch: a PNG, shown in the terminal (kitty, sixel or half-blocks)",
                                  details: "Each thumbnail is captioned with its position, id, the model's predicted class and the query score.\n" +
                                      "ALVLM_IMAGES=kitty|sixel|blocks|none chooses how terminals show it.") { [unowned self] args, _ in
            let q = args.object("query", as: QueryObject.self)!
            guard args.int("columns") >= 1 else { throw args.error("columns", "columns must be at least 1") }
            let names = q.pool.pool.classNames
            let captions = q.ids.indices.map { i -> [String] in
                ["\(i + 1). id \(q.ids[i])", q.predicted[i].map { names[$0] } ?? "?", q.scores[i].isFinite ? String(format: "score %.3f", q.scores[i]) : ""]
            }
            let paths = q.ids.map { q.pool.pool.sample($0)?.path ?? "" }
            let inFigure = !args.has("to") && self.figureDirectory != nil
            let path = (self.plotTarget(args) ?? self.temporaryPicture("query")) as NSString
            let target = path.expandingTildeInPath
            let sheet = ContactSheet.render(paths: paths, columns: args.int("columns"), captions: captions)
            try Bindings.engineCall { try ContactSheet.writePNG(sheet.pixels, width: sheet.width, height: sheet.height, to: target) }
            if inFigure {
                self.figureWritten(target)
            } else {
                switch TerminalImage.detect(environment: self.settings.terminal) {
                case .kitty: self.raw(TerminalImage.kitty(png: FileManager.default.contents(atPath: target) ?? Data()) + "\n")
                case .sixel: self.raw(TerminalImage.sixel(sheet.pixels, width: sheet.width, height: sheet.height) + "\n")
                case .blocks: self.print(Self.blockSheet(paths: paths, captions: captions, width: TerminalImage.columns(fallback: self.settings.columns)))
                case .none: break
                }
            }
            var lines = [inFigure ? "\(q.ids.count) images in reading order" : "wrote \(target): \(q.ids.count) images in reading order"]
            for (i, id) in q.ids.enumerated() {
                lines.append("  \(i + 1). id \(id)  predicted \(q.predicted[i].map { names[$0] } ?? "?")")
            }
            self.print(lines.joined(separator: "\n"))
            return .null
        })
    }

    /// A new file for a picture the user did not name (the REPL, -c, scripts): in a per-user temporary folder.
    func temporaryPicture(_ stem: String) -> String {
        let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("alvlm-\(getuid())")
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var n = 1
        while FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("\(stem)-\(getpid())-\(n).png")) { n += 1 }
        return (dir as NSString).appendingPathComponent("\(stem)-\(getpid())-\(n).png")
    }

    /// Escape sequences straight to the terminal (not through `output`, which hosts may redirect).
    func raw(_ text: String) {
        endProgress()
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Half-block thumbnails in rows that fit the terminal, each with its caption lines under it as text.
    static func blockSheet(paths: [String], captions: [[String]], width: Int, tile: Int = 20) -> String {
        let perRow = max(1, min(paths.count, (width + 2) / (tile + 2)))
        var out: [String] = []
        for start in stride(from: 0, to: paths.count, by: perRow) {
            let row = Array(start..<min(paths.count, start + perRow))
            let pictures = row.map { i -> [String] in
                let small = ContactSheet.render(paths: [paths[i]], thumbnail: tile, columns: 1, gap: 0)
                return TerminalImage.halfBlocks(small.pixels, width: small.width, height: small.height)
            }
            for line in 0..<(pictures.first?.count ?? 0) { out.append(pictures.map { $0[line] }.joined(separator: "  ")) }
            let lines = row.map { i in i < captions.count ? captions[i] : [] }
            for l in 0..<(lines.map(\.count).max() ?? 0) {
                out.append(lines.map { c in
                    let text = l < c.count ? String(c[l].prefix(tile)) : ""
                    return text.padding(toLength: tile, withPad: " ", startingAt: 0)
                }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
            }
        }
        return out.joined(separator: "\n")
    }

    /// The image being labelled: to the host's image display (Jupyter), or inline in the terminal.
    func showWhileLabelling(_ path: String) {
        let kind = imageSink != nil ? TerminalImage.Kind.kitty : TerminalImage.detect(environment: self.settings.terminal)
        switch kind {
        case .none: return
        case .blocks:
            let small = ContactSheet.render(paths: [path], thumbnail: 32, columns: 1, gap: 0)
            print(TerminalImage.halfBlocks(small.pixels, width: small.width, height: small.height).joined(separator: "\n"))
        case .sixel:
            let sheet = ContactSheet.render(paths: [path], thumbnail: 160, columns: 1, gap: 0)
            raw(TerminalImage.sixel(sheet.pixels, width: sheet.width, height: sheet.height) + "\n")
        case .kitty:
            let sheet = ContactSheet.render(paths: [path], thumbnail: 160, columns: 1)
            let temp = temporaryPicture("label")
            defer { try? FileManager.default.removeItem(atPath: temp) }
            guard (try? ContactSheet.writePNG(sheet.pixels, width: sheet.width, height: sheet.height, to: temp)) != nil,
                  let data = FileManager.default.contents(atPath: temp) else { return }
            if let imageSink { imageSink(data) } else { raw(TerminalImage.kitty(png: data) + "\n") }
        }
    }
}

extension Session {
    /// `explain(q, i, to:)`: the explanation as one picture too: the pick's thumbnail with its scores as bars (their
    /// standing in the pool), then its nearest unlabelled neighbours with their similarity and score. Written with
    /// `to:`, and as a figure in notebooks; the REPL keeps the text.
    func registerExplainFigure() {
        guard let explain = registry.builtins["explain"] else { return }
        let to = Parameter("to", .oneOf([.string, .nilValue]), default: .null, "a PNG with thumbnails and score bars (notebooks: a figure of the report)")
        registry.register(Builtin(explain.name, explain.parameters + [to], summary: explain.summary, details: explain.details) { [unowned self] args, interp in
            let record = try explain.run(args, interp)
            guard args.has("to") || self.figureDirectory != nil, case .record(let fields) = record else { return record }
            func field(_ name: String) -> Value? { fields.first { $0.0 == name }?.1 }
            let q = args.object("query", as: QueryObject.self)!
            guard case .number(let idValue)? = field("id") else { return record }
            let id = Int(idValue)
            var pickCaption = ["picked id \(id)"]
            if case .string(let predicted)? = field("predicted") { pickCaption.append(predicted) }
            if case .record(let scores)? = field("scores"), case .record(let standing)? = field("percentiles") {
                for (name, value) in scores {
                    guard case .number = value, case .number(let p)? = standing.first(where: { $0.0 == name })?.1 else { continue }
                    // A bar of the score's standing in the pool; the caption font has lower-case ASCII only, and a
                    // thumbnail is about 18 characters wide.
                    let filled = Int((p * 8).rounded())
                    let label = (["H": "h", "Ĥ": "cal", "H_nn": "nn", "U": "u"][name] ?? String(name.lowercased().prefix(3))).padding(toLength: 3, withPad: " ", startingAt: 0)
                    pickCaption.append(label + " " + String(repeating: "#", count: filled) + String(repeating: ".", count: 8 - filled) + String(format: " %.0f%%", 100 * p))
                }
            }
            var paths = [q.pool.pool.sample(id)?.path ?? ""], captions = [pickCaption]
            if case .list(let neighbours)? = field("neighbours") {
                for case .record(let n) in neighbours.prefix(7) {
                    guard case .number(let nid)? = n.first(where: { $0.0 == "id" })?.1, case .number(let sim)? = n.first(where: { $0.0 == "similarity" })?.1,
                          case .number(let score)? = n.first(where: { $0.0 == "score" })?.1 else { continue }
                    paths.append(q.pool.pool.sample(Int(nid))?.path ?? "")
                    captions.append(["neighbour id \(Int(nid))", String(format: "cos %.3f", sim), String(format: "score %.3f", score)])
                }
            }
            let inFigure = !args.has("to") && self.figureDirectory != nil
            let target = ((self.plotTarget(args) ?? self.temporaryPicture("explain")) as NSString).expandingTildeInPath
            let sheet = ContactSheet.render(paths: paths, columns: 4, captions: captions)
            try Bindings.engineCall { try ContactSheet.writePNG(sheet.pixels, width: sheet.width, height: sheet.height, to: target) }
            if inFigure { self.figureWritten(target) } else { self.print("wrote \(target): the pick and \(paths.count - 1) neighbours") }
            return record
        })
    }
}
