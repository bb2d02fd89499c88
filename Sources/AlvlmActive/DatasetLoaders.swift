import AlvlmEngine
import Foundation

/// Loading pools from the layouts users download: CoOp's datasets with their `split_zhou_*.json` files,
/// FGVC-Aircraft's official variant splits, a folder per class, or a CSV list. Every loader validates what it
/// read (missing files, unknown classes, duplicate paths, empty classes) and reports all problems at once.
public enum DatasetLoader {
    /// The CoOp datasets the paper evaluates on.
    public enum CoOpDataset: String, CaseIterable, Sendable {
        case dtd = "DescribableTextures", caltech101 = "Caltech101", eurosat = "EuroSAT", fgvcAircraft = "FGVCAircraft",
             oxfordFlowers = "OxfordFlowers", ucf101 = "UCF101"

        /// (dataset folder, image folder inside it) under the data root, as CoOp's DATASETS.md lays them out.
        var layout: (folder: String, images: String) {
            switch self {
            case .dtd: ("dtd", "images")
            case .caltech101: ("caltech-101", "101_ObjectCategories")
            case .eurosat: ("eurosat", "2750")
            case .fgvcAircraft: ("fgvc_aircraft", "images")
            case .oxfordFlowers: ("oxford_flowers", "jpg")
            case .ucf101: ("ucf101", "UCF-101-midframes")
            }
        }

        /// CoOp's class renames (applied when a split file still carries the original folder names).
        var renames: [String: String] {
            switch self {
            case .caltech101: ["airplanes": "airplane", "Faces": "face", "Leopards": "leopard", "Motorbikes": "motorbike"]
            case .eurosat: ["AnnualCrop": "Annual Crop Land", "HerbaceousVegetation": "Herbaceous Vegetation Land",
                            "Highway": "Highway or Road", "Industrial": "Industrial Buildings", "Pasture": "Pasture Land",
                            "PermanentCrop": "Permanent Crop Land", "Residential": "Residential Buildings", "SeaLake": "Sea or Lake"]
            default: [:]
            }
        }

        public static func named(_ name: String) -> CoOpDataset? {
            let key = name.lowercased().replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "_", with: "")
            let aliases: [String: CoOpDataset] = ["dtd": .dtd, "textures": .dtd, "describabletextures": .dtd, "caltech101": .caltech101,
                                                  "caltech": .caltech101, "eurosat": .eurosat, "fgvcaircraft": .fgvcAircraft,
                                                  "aircraft": .fgvcAircraft, "oxfordflowers": .oxfordFlowers, "flowers": .oxfordFlowers,
                                                  "flowers102": .oxfordFlowers, "ucf101": .ucf101, "ucf": .ucf101]
            return aliases[key]
        }
    }

    /// Loads a CoOp dataset from a data root that holds its folder (e.g. ROOT/dtd/...), or from the folder itself.
    public static func coop(_ dataset: CoOpDataset, root: String, checkFiles: Bool = true) throws -> Pool {
        let r = (root as NSString).expandingTildeInPath
        let (folder, images) = dataset.layout
        let fm = FileManager.default
        let dir = fm.fileExists(atPath: (r as NSString).appendingPathComponent(folder)) ? (r as NSString).appendingPathComponent(folder) : r
        let imageDir = (dir as NSString).appendingPathComponent(images)
        if dataset == .fgvcAircraft { return try aircraft(dir: dir, checkFiles: checkFiles) }
        let splitFile = (dir as NSString).appendingPathComponent("split_zhou_\(dataset.rawValue).json")
        guard fm.fileExists(atPath: splitFile) else {
            throw EngineError(.io, "not a \(dataset.rawValue) folder in CoOp's layout: missing \(folder)/split_zhou_\(dataset.rawValue).json (see CoOp's DATASETS.md)", path: root)
        }
        guard let data = fm.contents(atPath: splitFile),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw EngineError(.format, "not a JSON object with train/val/test lists", path: splitFile)
        }
        var entries: [(path: String, label: Int, name: String, split: Split)] = []
        var problems = Problems(source: splitFile)
        for split in Split.allCases {
            guard let items = json[split.rawValue] as? [[Any]] else {
                problems.add("no \"\(split.rawValue)\" list"); continue
            }
            for (i, item) in items.enumerated() {
                guard item.count >= 3, let rel = item[0] as? String, let label = (item[1] as? NSNumber)?.intValue, let name = item[2] as? String else {
                    problems.add("\(split.rawValue)[\(i)] is not [path, label, classname]"); continue
                }
                entries.append(((imageDir as NSString).appendingPathComponent(rel), label, dataset.renames[name] ?? name, split))
            }
        }
        try problems.throwIfAny()
        return try build(name: dataset.rawValue, entries: entries, source: splitFile, checkFiles: checkFiles)
    }

    /// FGVC-Aircraft: variants.txt and images_variant_{train,val,test}.txt ("<image id> <variant>" per line).
    static func aircraft(dir: String, checkFiles: Bool) throws -> Pool {
        func lines(_ name: String) throws -> [String] {
            let path = (dir as NSString).appendingPathComponent(name)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw EngineError(.io, "not an FGVC-Aircraft folder: missing \(name)", path: dir)
            }
            return text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let variants = try lines("variants.txt")
        let index = Dictionary(variants.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var entries: [(String, Int, String, Split)] = []
        var problems = Problems(source: dir)
        for split in Split.allCases {
            for line in try lines("images_variant_\(split.rawValue).txt") {
                guard let space = line.firstIndex(of: " ") else { problems.add("line \"\(line)\" has no variant"); continue }
                let image = String(line[..<space]), variant = String(line[line.index(after: space)...])
                guard let label = index[variant] else { problems.add("unknown variant \"\(variant)\""); continue }
                entries.append(((dir as NSString).appendingPathComponent("images/\(image).jpg"), label, variant, split))
            }
        }
        try problems.throwIfAny()
        return try build(name: "FGVCAircraft", entries: entries, source: dir, checkFiles: checkFiles, classNames: variants)
    }

    /// A folder per class (`root/<class>/*.jpg|png`), classes sorted by name. Without fractions every image is in
    /// the training pool; with fractions (train, val, test summing to 1) each class is split at random by `seed`.
    public static func folder(_ root: String, fractions: (train: Double, val: Double, test: Double)? = nil, seed: UInt64 = 0) throws -> Pool {
        let r = (root as NSString).expandingTildeInPath
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: r, isDirectory: &isDir), isDir.boolValue else { throw EngineError(.io, "no such folder", path: root) }
        let classes = try fm.contentsOfDirectory(atPath: r).filter { name in
            var d: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: (r as NSString).appendingPathComponent(name), isDirectory: &d) && d.boolValue
        }.sorted()
        guard !classes.isEmpty else { throw EngineError(.format, "no class folders (expected ROOT/<class>/<image>)", path: root) }
        if let f = fractions {
            guard f.train > 0, f.val >= 0, f.test >= 0, abs(f.train + f.val + f.test - 1) < 1e-9 else {
                throw EngineError(.argument, "split fractions must be non-negative, with train > 0, and sum to 1")
            }
        }
        var rng = SeededRandom(seed: seed)
        var entries: [(String, Int, String, Split)] = []
        for (label, name) in classes.enumerated() {
            var files = try ImageFiles.expand([(r as NSString).appendingPathComponent(name)]).map(\.path)
            if let f = fractions {
                for i in stride(from: files.count - 1, to: 0, by: -1) { files.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
                let nTrain = Int((Double(files.count) * f.train).rounded()), nVal = Int((Double(files.count) * f.val).rounded())
                for (i, path) in files.enumerated() {
                    entries.append((path, label, name, i < nTrain ? .train : i < nTrain + nVal ? .val : .test))
                }
            } else {
                entries += files.map { ($0, label, name, .train) }
            }
        }
        return try build(name: (r as NSString).lastPathComponent, entries: entries, source: root, checkFiles: false, classNames: classes)
    }

    /// The longest line a CSV pool list may have (a path of at most PATH_MAX, a class name, a split).
    static let longestCSVLine = 16_384

    /// A CSV list `path,label[,split]` (a header line is allowed); paths relative to the CSV's folder; labels are
    /// class names, classes sorted by name; the split defaults to train.
    public static func csv(_ file: String) throws -> Pool {
        let f = (file as NSString).expandingTildeInPath
        guard let text = String(data: try readInputFile(f, what: "CSV file"), encoding: .utf8) else { throw EngineError(.format, "the CSV file is not UTF-8 text", path: file) }
        let base = (f as NSString).deletingLastPathComponent
        var rows: [(String, String, Split)] = []
        var problems = Problems(source: file)
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            // A path, a class name and a split fit in a few kilobytes; a longer line is a wrong file, not a pool.
            guard line.utf8.count <= Self.longestCSVLine else {
                problems.add("line \(n + 1) is \(line.utf8.count) bytes long; a pool line (path,label[,split]) is at most \(Self.longestCSVLine)"); continue
            }
            let fields = CSV.split(line)
            if n == 0, fields.first?.lowercased() == "path" { continue }
            guard fields.count == 2 || fields.count == 3, !fields[0].isEmpty, !fields[1].isEmpty else {
                problems.add("line \(n + 1): expected path,label[,split]"); continue
            }
            var split = Split.train
            if fields.count == 3 {
                guard let s = Split(rawValue: fields[2].lowercased()) else { problems.add("line \(n + 1): unknown split \"\(fields[2])\""); continue }
                split = s
            }
            let path = fields[0].hasPrefix("/") ? fields[0] : (base as NSString).appendingPathComponent(fields[0])
            rows.append((path, fields[1], split))
        }
        try problems.throwIfAny()
        let classes = Array(Set(rows.map(\.1))).sorted()
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        return try build(name: ((f as NSString).lastPathComponent as NSString).deletingPathExtension,
                         entries: rows.map { ($0.0, index[$0.1]!, $0.1, $0.2) }, source: file, checkFiles: true, classNames: classes)
    }

    /// Validates and assigns ids in order (train, then val, then test; file order within each).
    static func build(name: String, entries: [(path: String, label: Int, name: String, split: Split)], source: String,
                      checkFiles: Bool, classNames given: [String]? = nil) throws -> Pool {
        var problems = Problems(source: source)
        var names: [Int: String] = [:]
        if let given { for (i, n) in given.enumerated() { names[i] = n } }
        for e in entries {
            if e.label < 0 { problems.add("negative label \(e.label) for \(e.path)"); continue }
            if e.label >= max(entries.count, given?.count ?? 0) { problems.add("label \(e.label) for \(e.path) is larger than the number of images"); continue }
            if let known = names[e.label], known != e.name { problems.add("label \(e.label) is named both \"\(known)\" and \"\(e.name)\"") }
            else { names[e.label] = e.name }
        }
        let count = (names.keys.filter { $0 < max(entries.count, given?.count ?? 0) }.max() ?? -1) + 1
        let classNames = (0..<count).map { names[$0] ?? "" }
        for (i, n) in classNames.enumerated() where n.isEmpty { problems.add("class \(i) has no name (no sample carries label \(i))") }
        var seen = Set<String>()
        for e in entries where !seen.insert(e.path).inserted { problems.add("duplicate path \(e.path)") }
        if checkFiles {
            let missing = entries.filter { !FileManager.default.fileExists(atPath: $0.path) }
            for m in missing { problems.add("missing file \(m.path)") }
        }
        var trainCounts = [Int](repeating: 0, count: count)
        for e in entries where e.split == .train && e.label >= 0 { trainCounts[e.label] += 1 }
        for (i, c) in trainCounts.enumerated() where c == 0 && !classNames[i].isEmpty {
            problems.add("class \"\(classNames[i])\" has no training images")
        }
        if entries.isEmpty { problems.add("no images") }
        try problems.throwIfAny()
        var samples: [Sample] = []
        for split in Split.allCases {
            for e in entries where e.split == split { samples.append(Sample(id: samples.count, path: e.path, split: split, label: e.label)) }
        }
        return try Pool(name: name, classNames: classNames, samples: samples)
    }
}

/// Collects every problem found while loading, so the user sees them all in one report.
struct Problems {
    let source: String
    var items: [String] = []
    mutating func add(_ s: String) { items.append(s) }
    func throwIfAny() throws {
        guard !items.isEmpty else { return }
        let shown = items.prefix(8).map { "  - " + $0 }.joined(separator: "\n")
        let more = items.count > 8 ? "\n  ... and \(items.count - 8) more" : ""
        throw EngineError(.format, "\(items.count) problem\(items.count == 1 ? "" : "s") found:\n\(shown)\(more)", path: source)
    }
}

/// Minimal CSV field splitting with double-quote quoting (RFC 4180 style).
enum CSV {
    static func split(_ line: String) -> [String] {
        var fields: [String] = [], field = "", quoted = false
        var chars = Array(line)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" { if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false } }
                else { field.append(c) }
            } else if c == "\"" { quoted = true }
            else if c == "," { fields.append(field); field = "" }
            else { field.append(c) }
        }
        fields.append(field)
        return fields.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    static func quote(_ s: String) -> String {
        s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

extension DatasetLoader {
    /// Writes a pool as the CSV list `csv()` reads back: `path,label,split`, labels as class names, ids in order.
    public static func writeCSV(_ pool: Pool, to path: String) throws {
        var out = "path,label,split\n"
        for s in pool.samples { out += "\(CSV.quote(s.path)),\(CSV.quote(pool.classNames[s.label])),\(s.split.rawValue)\n" }
        try writeAtomically(Data(out.utf8), to: path)
    }
}
