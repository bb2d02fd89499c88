import AlvlmEngine
import Foundation

/// Who answers "what is this image?". Answers may leave ids out (skipped).
public protocol Oracle {
    func labels(for ids: [Int], pool: Pool) throws -> [Int: Int]
}

/// The pool's own ground truth: the simulation every paper runs.
public struct SimulatedOracle: Oracle {
    public init() {}
    public func labels(for ids: [Int], pool: Pool) throws -> [Int: Int] {
        var out: [Int: Int] = [:]
        for id in ids {
            guard let label = pool.groundTruth(id) else { throw EngineError(.argument, "unknown sample id \(id)") }
            out[id] = label
        }
        return out
    }
}

/// Answers collected before the round runs (annotators' files brought back with `importAnswers`):
/// every queried id must have an answer or be skipped; answers for ids not queried this round are not used.
/// Skipped ids get no label (the experiment records them as skipped).
public struct AnswerSheetOracle: Oracle {
    public let answers: [Int: Int]
    public let skipped: Set<Int>
    public init(answers: [Int: Int], skipped: Set<Int> = []) { self.answers = answers; self.skipped = skipped }
    public func labels(for ids: [Int], pool: Pool) throws -> [Int: Int] {
        let missing = ids.filter { answers[$0] == nil && !skipped.contains($0) }
        guard missing.isEmpty else {
            let shown = missing.prefix(10).map(String.init).joined(separator: ", ") + (missing.count > 10 ? ", ..." : "")
            throw EngineError(.argument, "the answers lack \(missing.count) of the \(ids.count) ids this round queries (\(shown)): export the round's batch (run.query()) and import its answers")
        }
        return Dictionary(uniqueKeysWithValues: ids.compactMap { id in answers[id].map { (id, $0) } })
    }
}

/// The simulated oracle as an annotator filling in an exported batch: the ground truth, with a seeded
/// fraction of answers replaced by another class (annotation noise), for what-if studies and headless demos.
public struct SimulatedAnnotator {
    public var errorRate: Double
    public var seed: UInt64
    public init(errorRate: Double = 0, seed: UInt64 = 0) { self.errorRate = errorRate; self.seed = seed }

    public func answers(for ids: [Int], pool: Pool) throws -> [(id: Int, label: Int)] {
        guard errorRate >= 0, errorRate <= 1 else { throw EngineError(.argument, "the error rate must be between 0 and 1 (got \(errorRate))") }
        let truth = try SimulatedOracle().labels(for: ids, pool: pool)
        var rng = SeededRandom(seed: seed)
        return ids.map { id in
            var label = truth[id]!
            if pool.classes > 1, rng.uniform() < errorRate {
                label = (label + 1 + Int(rng.next() % UInt64(pool.classes - 1))) % pool.classes
            }
            return (id, label)
        }
    }
}

/// A person, through a callback the REPL implements (or a file round trip: see `AnnotationExchange`).
public struct HumanOracle: Oracle {
    public let ask: ([Int], Pool) throws -> [Int: Int]
    public init(ask: @escaping ([Int], Pool) throws -> [Int: Int]) { self.ask = ask }
    public func labels(for ids: [Int], pool: Pool) throws -> [Int: Int] {
        let answers = try ask(ids, pool)
        let asked = Set(ids)
        for (id, label) in answers {
            guard asked.contains(id) else { throw EngineError(.argument, "an answer for id \(id), which was not asked") }
            guard label >= 0, label < pool.classes else { throw EngineError(.argument, "label \(label) for id \(id) is not a class") }
        }
        return answers
    }
}

/// An append-only, fsync'ed log of every label received, written before the labels change any state,
/// so a crash loses no annotation. Each line: `id<TAB>label<TAB>pool<TAB>source`; label -1 retracts an earlier answer.
public final class LabelJournal {
    public let path: String

    public init(path: String, createDirectory: Bool = false) throws {
        self.path = (path as NSString).expandingTildeInPath
        if createDirectory {
            try? FileManager.default.createDirectory(atPath: (self.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        }
        if !FileManager.default.fileExists(atPath: self.path) {
            // Created without truncating: another session may have created it (and journaled) a moment ago.
            let fd = open(self.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            guard fd >= 0 else { throw EngineError(.io, "cannot create the label journal: \(String(cString: strerror(errno)))", path: path) }
            close(fd)
            syncFolder((self.path as NSString).deletingLastPathComponent)   // the new file's entry survives a crash
        }
    }

    public func append(_ labels: [(id: Int, label: Int)], pool: String, source: String) throws {
        guard !labels.isEmpty else { return }
        func clean(_ s: String) -> String { s.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ") }
        var text = labels.map { "\($0.id)\t\($0.label)\t\(clean(pool))\t\(clean(source))\n" }.joined()
        let fd = open(path, O_RDWR | O_APPEND)
        guard fd >= 0 else { throw EngineError(.io, "cannot open the label journal: \(String(cString: strerror(errno)))", path: path) }
        defer { close(fd) }   // closing releases the lock
        // Two sessions sharing a journal append one whole batch at a time.
        guard flock(fd, LOCK_EX) == 0 else { throw EngineError(.io, "cannot lock the label journal: \(String(cString: strerror(errno)))", path: path) }
        // A line torn by a crash is closed first, so that it never joins the first new line.
        let start = lseek(fd, 0, SEEK_END)
        var last: UInt8 = 0
        if start > 0, pread(fd, &last, 1, start - 1) == 1, last != UInt8(ascii: "\n") { text = "\n" + text }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let r = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard r > 0 else {
                // A full disk: the batch is taken back whole (a part of it would read as answers never confirmed).
                let reason = String(cString: strerror(errno))
                if start >= 0 { _ = ftruncate(fd, start) }
                throw EngineError(.io, "cannot write the label journal (\(labels.count) answer\(labels.count == 1 ? "" : "s") not journaled): \(reason)", path: path)
            }
            written += r
        }
        guard fsync(fd) == 0 else { throw EngineError(.io, "cannot sync the label journal: \(String(cString: strerror(errno)))", path: path) }
    }

    /// The journal's key for a pool: its name and content fingerprint, so that a pool of the same name with other
    /// images (another seed, another folder) never takes this one's answers.
    public static func key(_ pool: Pool) -> String { "\(pool.name)@\(String(pool.fingerprint, radix: 16))" }

    public struct Entry: Equatable { public var id: Int; public var label: Int; public var source: String }

    /// The current label of every id journaled under `pool` (a key, see `key(_:)`; a later line wins, -1 retracts),
    /// with who gave it; a torn last line is ignored.
    public func replayEntries(pool: String) throws -> [Entry] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw EngineError(.io, "cannot read the label journal", path: path) }
        var current: [Int: Entry] = [:], order: [Int] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {   // the last piece is empty, or a torn line
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count >= 4, f[2] == pool, let id = Int(f[0]), let label = Int(f[1]) else { continue }
            if current[id] == nil { order.append(id) }
            current[id] = Entry(id: id, label: label, source: String(f[3]))
        }
        return order.compactMap { id in current[id].flatMap { $0.label >= 0 ? $0 : nil } }
    }

    public func replay(pool: String) throws -> [(id: Int, label: Int)] {
        try replayEntries(pool: pool).map { ($0.id, $0.label) }
    }
}

/// Query batches out to annotators and their answers back in: CSV and Label Studio formats.
public enum AnnotationExchange {
    public struct Query {
        public let id: Int
        public let score: Double
        public let predicted: Int?
        public init(id: Int, score: Double, predicted: Int?) { self.id = id; self.score = score; self.predicted = predicted }
    }

    /// How an export hands images to annotators. A pool's own paths often hold the answer (`.../banded/banded_0042.jpg`):
    /// `copy` and `link` put each image beside the export file under a neutral name (its id) instead.
    public enum ImageHandoff: String, CaseIterable, Sendable {
        /// A copy per image in `<export name>-images/<id>.<ext>`, named relative to the export file (portable).
        case copy
        /// The same names as symbolic links to the pool's files (no copies; only on this machine).
        case link
        /// The pool's own paths (for pools whose paths reveal nothing).
        case path
    }

    /// The image reference each query gets in an export file, placing copies or links first when asked.
    /// Returns the references in query order and the images folder (nil for `.path`).
    public static func stageImages(_ queries: [Query], pool: Pool, exportPath: String, handoff: ImageHandoff) throws -> (references: [String], folder: String?) {
        let samples = try queries.map { q -> Sample in
            guard let s = pool.sample(q.id) else { throw EngineError(.argument, "unknown sample id \(q.id)") }
            return s
        }
        guard handoff != .path else { return (samples.map(\.path), nil) }
        let base = ((exportPath as NSString).lastPathComponent as NSString).deletingPathExtension + "-images"
        let folder = ((exportPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent(base)
        let fm = FileManager.default
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return (try samples.map { s in
            let ext = (s.path as NSString).pathExtension
            let name = "\(s.id)" + (ext.isEmpty ? "" : "." + ext)
            let target = (folder as NSString).appendingPathComponent(name)
            guard fm.fileExists(atPath: s.path) else { throw EngineError(.io, "image of sample \(s.id) not found", path: s.path) }
            if (try? fm.attributesOfItem(atPath: target)) != nil { try fm.removeItem(atPath: target) }
            do {
                if handoff == .copy { try fm.copyItem(atPath: s.path, toPath: target) }
                else { try fm.createSymbolicLink(atPath: target, withDestinationPath: (s.path as NSString).standardizingPath) }
            } catch {
                throw EngineError(.io, "cannot \(handoff == .copy ? "copy" : "link") the image of sample \(s.id): \(error.localizedDescription)", path: target)
            }
            return base + "/" + name
        }, folder)
    }

    /// `id,path,score,predicted` (predicted as a class name); `path` as `stageImages` placed it.
    public static func exportCSV(_ queries: [Query], pool: Pool, to path: String, images: ImageHandoff = .path) throws {
        let references = try stageImages(queries, pool: pool, exportPath: path, handoff: images).references
        var out = "id,path,score,predicted\n"
        for (q, image) in zip(queries, references) {
            let predicted = q.predicted.map { pool.classNames[$0] } ?? ""
            out += "\(q.id),\(CSV.quote(image)),\(q.score.isFinite ? String(q.score) : ""),\(CSV.quote(predicted))\n"
        }
        try writeAtomically(Data(out.utf8), to: path)
    }

    /// Answers as an annotator returns them: `id,label` with class names (what `importAnswers` reads).
    public static func exportAnswersCSV(_ answers: [(id: Int, label: Int)], pool: Pool, to path: String) throws {
        var out = "id,label\n"
        for a in answers { out += "\(a.id),\(CSV.quote(pool.classNames[a.label]))\n" }
        try writeAtomically(Data(out.utf8), to: path)
    }

    /// Label Studio tasks: `data.image`, our id as `data.alvlm_id` (and `data.id`), and one prediction whose score is
    /// the query score. Label Studio's JSON_MIN export overwrites `id` with its own task number; `alvlm_id` survives.
    public static func exportLabelStudio(_ queries: [Query], pool: Pool, to path: String, images: ImageHandoff = .path, modelVersion: String = "alvlm") throws {
        let references = try stageImages(queries, pool: pool, exportPath: path, handoff: images).references
        let tasks: [[String: Any]] = zip(queries, references).map { q, image in
            var task: [String: Any] = ["data": ["image": image, "id": q.id, "alvlm_id": q.id]]
            if let p = q.predicted {
                task["predictions"] = [["model_version": modelVersion, "score": q.score.isFinite ? q.score : 0,
                                        "result": [["from_name": "label", "to_name": "image", "type": "choices",
                                                    "value": ["choices": [pool.classNames[p]]]]]]]
            }
            return task
        }
        try writeAtomically(try JSONSerialization.data(withJSONObject: tasks, options: [.prettyPrinted, .sortedKeys]), to: path)
    }

    public struct Import {
        public var labels: [(id: Int, label: Int)] = []
        public var skipped: [Int] = []
        /// Problems found (unknown ids, unknown labels, malformed rows): reported, never silently dropped.
        public var problems: [String] = []
    }

    /// Reads answers: CSV `id,label` (label a class name or index; empty = skipped), Label Studio JSON
    /// (full export: `annotations[].result[].value.choices`, `was_cancelled` = skipped) or JSON_MIN.
    public static func importAnswers(from path: String, pool: Pool) throws -> Import {
        let data = try readInputFile(path, what: "answers file")
        var result = Import()
        func classIndex(_ value: String) -> Int? {
            if let i = pool.classNames.firstIndex(of: value) { return i }
            if let i = Int(value), i >= 0, i < pool.classes { return i }
            return pool.classNames.firstIndex { $0.lowercased() == value.lowercased() }
        }
        func accept(id: Int?, label: String?, cancelled: Bool, at: String) {
            guard let id else { result.problems.append("\(at): no id"); return }
            guard pool.contains(id) else { result.problems.append("\(at): unknown id \(id)"); return }
            guard !cancelled, let label, !label.isEmpty else { result.skipped.append(id); return }
            guard let c = classIndex(label) else { result.problems.append("\(at): unknown label \"\(label)\" for id \(id)"); return }
            result.labels.append((id, c))
        }
        if let json = try? JSONSerialization.jsonObject(with: data) {
            guard let tasks = json as? [[String: Any]] else { throw EngineError(.format, "a Label Studio export is a JSON list of tasks", path: path) }
            var onlyTaskIDs: [Int] = []
            for (i, task) in tasks.enumerated() {
                let data = task["data"] as? [String: Any] ?? task
                // Ours first: JSON_MIN replaces `id` with Label Studio's task number.
                let ours = (data["alvlm_id"] as? NSNumber)?.intValue ?? (task["alvlm_id"] as? NSNumber)?.intValue
                let id = ours ?? (data["id"] as? NSNumber)?.intValue ?? (task["id"] as? NSNumber)?.intValue
                if ours == nil, task["data"] == nil, let id { onlyTaskIDs.append(id) }
                if let annotations = task["annotations"] as? [[String: Any]] {
                    let live = annotations.last { !($0["was_cancelled"] as? Bool ?? false) }
                    let choice = ((live?["result"] as? [[String: Any]])?.first?["value"] as? [String: Any])?["choices"] as? [String]
                    accept(id: id, label: choice?.first, cancelled: live == nil, at: "task \(i + 1)")
                } else {
                    // JSON_MIN: data fields plus one key per from_name (a string or a {"choices": [...]}).
                    let value = task["label"] ?? task["choice"] ?? task["choices"]
                    let label = (value as? String) ?? (value as? [String])?.first ?? ((value as? [String: Any])?["choices"] as? [String])?.first
                    accept(id: id, label: label, cancelled: false, at: "task \(i + 1)")
                }
            }
            // A JSON_MIN export of tasks made elsewhere: its ids 1...N look like Label Studio's own task numbers.
            if !onlyTaskIDs.isEmpty, onlyTaskIDs.count == tasks.count, onlyTaskIDs.sorted() == Array(1...onlyTaskIDs.count) {
                result.problems.append("the answers carry only ids 1...\(onlyTaskIDs.count), which look like Label Studio's task numbers, not this pool's ids: export the tasks with export(q, \"tasks.json\") (they carry alvlm_id) and import that project's answers")
            }
        } else {
            guard let text = String(data: data, encoding: .utf8) else { throw EngineError(.format, "answers file is neither JSON nor UTF-8 CSV", path: path) }
            for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
                if line.isEmpty { continue }
                let f = CSV.split(line)
                if n == 0, f.first?.lowercased() == "id" { continue }
                accept(id: Int(f[0]), label: f.count > 1 ? f[1] : nil, cancelled: false, at: "line \(n + 1)")
            }
        }
        return result
    }
}
