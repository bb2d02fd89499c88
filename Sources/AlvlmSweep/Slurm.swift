import AlvlmEngine
import Foundation

/// A sweep's tasks as a Slurm job array and its merge as one job that depends on them (`afterok`, and cancelled by
/// Slurm if a task fails: `--kill-on-invalid-dep=yes`, so it never waits forever). Slurm's own commands do the work:
/// `sbatch`, `squeue`, `sacct` (when accounting is on), `scancel`.
public enum Slurm {
    public struct Options: Codable, Equatable, Sendable {
        public var partition: String?
        public var cpusPerTask: Int?
        public var memory: String?
        public var time: String?
        /// At most this many tasks at once (`--array=...%K`).
        public var maxRunning: Int?
        /// Passed to sbatch as they are (`--account=...`, `--qos=...`).
        public var extra: [String] = []
        public init(partition: String? = nil, cpusPerTask: Int? = nil, memory: String? = nil, time: String? = nil,
                    maxRunning: Int? = nil, extra: [String] = []) {
            self.partition = partition; self.cpusPerTask = cpusPerTask; self.memory = memory; self.time = time
            self.maxRunning = maxRunning; self.extra = extra
        }
        var arguments: [String] {
            var a: [String] = []
            if let partition { a.append("--partition=\(partition)") }
            if let cpusPerTask { a.append("--cpus-per-task=\(cpusPerTask)") }
            if let memory { a.append("--mem=\(memory)") }
            if let time { a.append("--time=\(time)") }
            return a + extra
        }
    }

    /// One submission: the array (its tasks) and the merge job.
    public struct Submission: Codable, Sendable {
        public var arrayJob: String
        public var mergeJob: String
        public var tasks: [Int]
        public var options: Options
    }

    public struct TaskState: Sendable {
        public var task: Int
        /// done (a valid result), or Slurm's state (PENDING, RUNNING, FAILED, CANCELLED, TIMEOUT, ...), or
        /// "not run" (no result and no job).
        public var state: String
        public var node: String
        public var reason: String
    }

    /// Submits the tasks without a valid result (all of them for a new sweep) and a merge job after them; records
    /// both in the folder. Without a reachable controller, sbatch's own message is the error and nothing changes.
    @discardableResult
    public static func submit(_ folder: SweepFolder, options: Options, executable: String) throws -> Submission {
        let plan = try folder.plan()
        let tasks = folder.missing(plan: plan)
        guard !tasks.isEmpty else { throw EngineError(.argument, "every task has its result already (sweep collect merges them)", path: folder.path) }
        let taskScript = folder.path + "/slurm-task.sh", mergeScript = folder.path + "/slurm-merge.sh"
        try writeAtomically(Data("#!/bin/sh\nexec \(quote(executable)) sweep task \(quote(folder.path)) \"$SLURM_ARRAY_TASK_ID\"\n".utf8), to: taskScript)
        try writeAtomically(Data("#!/bin/sh\nexec \(quote(executable)) sweep collect \(quote(folder.path))\n".utf8), to: mergeScript)
        var array = ranges(tasks)
        if let k = options.maxRunning, k >= 1 { array += "%\(k)" }
        let arrayJob: String
        do {
            arrayJob = try sbatch(["--parsable", "--job-name=alvlm-sweep", "--array=\(array)",
                                   "--output=\(folder.path)/logs/task-%a.log"] + options.arguments + [taskScript])
        } catch {
            // Nothing submitted: the folder is left as it was (the scripts are written again on the next submit).
            if submissions(folder).isEmpty { try? FileManager.default.removeItem(atPath: taskScript); try? FileManager.default.removeItem(atPath: mergeScript) }
            throw error
        }
        let mergeJob: String
        do {
            mergeJob = try sbatch(["--parsable", "--job-name=alvlm-sweep-merge", "--dependency=afterok:\(arrayJob)", "--kill-on-invalid-dep=yes",
                                   "--output=\(folder.path)/logs/merge.log"] + options.arguments.filter { !$0.hasPrefix("--cpus-per-task") } + [mergeScript])
        } catch {
            _ = try? command("scancel", [arrayJob])
            throw error
        }
        let submission = Submission(arrayJob: arrayJob, mergeJob: mergeJob, tasks: tasks, options: options)
        var all = submissions(folder)
        all.append(submission)
        try writeAtomically(try SweepFolder.encoder.encode(all), to: folder.slurmFile)
        return submission
    }

    /// The submissions recorded in a folder, oldest first.
    public static func submissions(_ folder: SweepFolder) -> [Submission] {
        guard let data = FileManager.default.contents(atPath: folder.slurmFile) else { return [] }
        return (try? JSONDecoder().decode([Submission].self, from: data)) ?? []
    }

    /// Every task's state: done when it has a valid result, else what Slurm says of its latest submission (squeue,
    /// which keeps finished jobs for MinJobAge; sacct when squeue no longer knows them and accounting is on).
    public static func status(_ folder: SweepFolder) throws -> [TaskState] {
        let plan = try folder.plan()
        var slurm: [Int: TaskState] = [:]
        for s in submissions(folder) {
            var states = try? squeue(s.arrayJob)
            if states?.isEmpty ?? true { states = sacct(s.arrayJob) }
            for k in s.tasks { slurm[k] = states?[k] ?? TaskState(task: k, state: "UNKNOWN", node: "", reason: "Slurm no longer reports the job") }
        }
        return (0..<plan.taskCount).map { k in
            if let r = folder.result(k, plan: plan) { return TaskState(task: k, state: "done", node: r.node, reason: "") }
            return slurm[k] ?? TaskState(task: k, state: "not run", node: "", reason: "")
        }
    }

    /// The merge job's state in the latest submission ("" if none).
    public static func mergeState(_ folder: SweepFolder) -> String {
        guard let s = submissions(folder).last else { return "" }
        let out = (try? command("squeue", ["-h", "-t", "all", "-j", s.mergeJob, "-o", "%T"]))?.out ?? ""
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Cancels every job of every submission (the tasks and the merge job).
    public static func cancel(_ folder: SweepFolder) throws -> [String] {
        let jobs = submissions(folder).flatMap { [$0.arrayJob, $0.mergeJob] }
        guard !jobs.isEmpty else { return [] }
        let r = try command("scancel", jobs)
        guard r.status == 0 else { throw EngineError(.io, "scancel failed: \(r.err.trimmingCharacters(in: .whitespacesAndNewlines))") }
        return jobs
    }

    // MARK: Slurm's commands

    static func sbatch(_ arguments: [String]) throws -> String {
        let r = try command("sbatch", arguments)
        let id = r.out.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard r.status == 0, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw EngineError(.io, "sbatch failed: \((r.err + r.out).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return id
    }

    /// squeue's view of an array: one line per task with `-r`.
    static func squeue(_ job: String) throws -> [Int: TaskState] {
        let r = try command("squeue", ["-h", "-r", "-t", "all", "-j", job, "-o", "%i|%T|%r|%N"])
        guard r.status == 0 else { return [:] }
        var out: [Int: TaskState] = [:]
        for line in r.out.split(separator: "\n") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 4, let underscore = f[0].firstIndex(of: "_"), let k = Int(f[0][f[0].index(after: underscore)...]) else { continue }
            out[k] = TaskState(task: k, state: f[1], node: f[3], reason: f[2] == "None" ? "" : f[2])
        }
        return out
    }

    /// sacct's view (only with accounting; nil otherwise).
    static func sacct(_ job: String) -> [Int: TaskState]? {
        guard let r = try? command("sacct", ["-X", "-n", "-P", "-j", job, "-o", "JobID,State,ExitCode,NodeList"]), r.status == 0 else { return nil }
        var out: [Int: TaskState] = [:]
        for line in r.out.split(separator: "\n") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 4, let underscore = f[0].firstIndex(of: "_"), let k = Int(f[0][f[0].index(after: underscore)...]) else { continue }
            out[k] = TaskState(task: k, state: f[1].split(separator: " ").first.map(String.init) ?? f[1], node: f[3], reason: "exit \(f[2])")
        }
        return out
    }

    /// Runs one of Slurm's commands found on PATH.
    static func command(_ tool: String, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { throw EngineError(.io, "cannot run \(tool): \(error.localizedDescription)") }
        final class Box: @unchecked Sendable { var data = Data() }
        let errors = Box(), group = DispatchGroup()
        DispatchQueue.global().async(group: group) { errors.data = err.fileHandleForReading.readDataToEndOfFile() }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        if p.terminationStatus == 127 { throw EngineError(.io, "\(tool) is not installed (Slurm's client commands are needed)") }
        return (p.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: errors.data, as: UTF8.self))
    }

    /// "0-3,5,7-8" for a sorted list of task numbers.
    static func ranges(_ tasks: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < tasks.count {
            var j = i
            while j + 1 < tasks.count, tasks[j + 1] == tasks[j] + 1 { j += 1 }
            parts.append(i == j ? "\(tasks[i])" : "\(tasks[i])-\(tasks[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }

    /// A word for sh: single-quoted, with single quotes escaped.
    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
