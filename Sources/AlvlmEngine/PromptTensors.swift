import Foundation

/// A prompt learner's trainable tensors in one array: a table of (name, shape, offset) from which initialisation,
/// the optimiser (one vector), saving and loading (float32 safetensors under these names) all derive.
public struct PromptTensors: Equatable, Sendable {
    public struct Tensor: Equatable, Sendable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
        public var range: Range<Int> { offset..<(offset + count) }
    }

    public let tensors: [Tensor]
    /// Every tensor's values, one after another in table order.
    public var values: [Float]

    /// Zero-filled tensors of the given names and shapes.
    public init(_ layout: [(name: String, shape: [Int])]) {
        var offset = 0
        tensors = layout.map { entry in
            defer { offset += entry.shape.reduce(1, *) }
            return Tensor(name: entry.name, shape: entry.shape, offset: offset)
        }
        values = [Float](repeating: 0, count: offset)
    }

    public func tensor(_ name: String) -> Tensor? { tensors.first { $0.name == name } }

    /// One tensor's values (a name outside the table is a programming error).
    public subscript(_ name: String) -> [Float] {
        get { Array(values[range(name)]) }
        set {
            let r = range(name)
            precondition(newValue.count == r.count, "\(name) holds \(r.count) values, not \(newValue.count)")
            values.replaceSubrange(r, with: newValue)
        }
    }

    func range(_ name: String) -> Range<Int> {
        guard let t = tensor(name) else { preconditionFailure("no prompt tensor named \(name)") }
        return t.range
    }

    public func write(to path: String) throws {
        try SafetensorsFile.write(tensors.map { ($0.name, $0.shape, Array(values[$0.range])) }, to: path)
    }

    /// The shapes of a prompt file's tensors, by name (for learners that read their sizes from a file).
    public static func shapes(in path: String) throws -> [String: [Int]] {
        try SafetensorsFile(path: path).entries.mapValues(\.shape)
    }

    /// Replaces the values with a file's: it must hold exactly these tensors with these shapes.
    public mutating func read(from path: String) throws {
        let file = try SafetensorsFile(path: path)
        let expected = Set(tensors.map(\.name)), found = Set(file.entries.keys)
        if expected != found {
            let missing = expected.subtracting(found).sorted(), extra = found.subtracting(expected).sorted()
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing " + missing.joined(separator: ", ")) }
            if !extra.isEmpty { parts.append("unexpected " + extra.joined(separator: ", ")) }
            throw EngineError(.format, "the prompt file does not match the learner: " + parts.joined(separator: "; "), path: path)
        }
        var next = values
        for t in tensors {
            let entry = file.entries[t.name]!
            guard entry.shape == t.shape else {
                throw EngineError(.format, "\(t.name) has shape \(entry.shape); \(t.shape) expected", path: path)
            }
            let v = try file.floats(t.name)
            if v.contains(where: { !$0.isFinite }) { throw EngineError(.numeric, "\(t.name) holds NaN or infinity", path: path) }
            next.replaceSubrange(t.range, with: v)
        }
        values = next
    }
}
