import Foundation

/// The everyday builtins people reach for (print, len, round, percent, sum, mean, min, max, abs, sort, str, range):
/// pure functions of values (print writes through the host), registered by every host.
public enum StandardLibrary {
    public static func register(into r: Registry) {
        r.group = .basics
        r.register(Builtin("print", [Parameter("value", .any)], summary: "print a value") { args, interp in
            interp.host.print(args["value"].description)
            return .null
        })
        r.register(Builtin("len", [Parameter("value", .any, "a list, range, string or record")], summary: "number of items (characters of a string, fields of a record)") { args, _ in
            switch args["value"] {
            case .string(let s): return .number(Double(s.count))
            case .record(let fields): return .number(Double(fields.count))
            case let v:
                guard let items = v.elements else { throw args.error("value", "len needs a list, range, string or record, not \(v.typeName == "nil" ? "nil" : "a " + v.typeName)") }
                return .number(Double(items.count))
            }
        })
        r.register(Builtin("round", [Parameter("value", .number), Parameter("digits", .integer, default: .number(0), "decimal places")],
                                  summary: "a number rounded to some decimal places (half away from zero)") { args, _ in
            let digits = args.int("digits")
            guard (0...12).contains(digits) else { throw args.error("digits", "digits must be between 0 and 12") }
            let scale = pow(10.0, Double(digits))
            return .number((args.number("value") * scale).rounded() / scale)
        })
        r.register(Builtin("percent", [Parameter("value", .number, "a fraction, e.g. an accuracy"), Parameter("digits", .integer, default: .number(1))],
                                  summary: "a fraction as a percentage string, e.g. percent(0.4567) is \"45.7%\"") { args, _ in
            let digits = args.int("digits")
            guard (0...12).contains(digits) else { throw args.error("digits", "digits must be between 0 and 12") }
            return .string(String(format: "%.\(digits)f%%", 100 * args.number("value")))
        })
        r.register(Builtin("sum", [Parameter("values", .list, "numbers (percentages count as fractions)")], summary: "the sum of a list of numbers") { args, _ in
            .number(try args.numbers("values").reduce(0, +))
        })
        r.register(Builtin("mean", [Parameter("values", .list, "numbers, at least one")], summary: "the mean of a list of numbers") { args, _ in
            let v = try args.numbers("values", nonEmpty: true)
            return .number(v.reduce(0, +) / Double(v.count))
        })
        r.register(Builtin("min", [Parameter("values", .list, "numbers or strings, at least one")], summary: "the smallest item of a list") { args, _ in
            try sorted(args, "values").first!
        })
        r.register(Builtin("max", [Parameter("values", .list, "numbers or strings, at least one")], summary: "the largest item of a list") { args, _ in
            try sorted(args, "values").last!
        })
        r.register(Builtin("abs", [Parameter("value", .number)], summary: "the absolute value of a number") { args, _ in
            .number(abs(args.number("value")))
        })
        r.register(Builtin("sort", [Parameter("values", .list, "numbers or strings"), Parameter("reverse", .bool, default: .bool(false), "largest first")],
                           summary: "a list sorted (numbers by value, strings alphabetically)") { args, _ in
            let items = (args["values"].elements ?? []).isEmpty ? [] : try sorted(args, "values")
            return .list(args.bool("reverse") ? items.reversed() : items)
        })
        r.register(Builtin("str", [Parameter("value", .any)], summary: "a value as the text print shows, e.g. \"cec: \" + str(0.5)") { args, _ in
            .string(args["value"].description)
        })
        r.register(Builtin("range", [Parameter("start", .integer, "the first number (or the end, when stop is not given)"),
                                     Parameter("stop", .oneOf([.integer, .nilValue]), default: .null, "the end, not included"),
                                     Parameter("step", .integer, default: .number(1), "not 0")],
                           summary: "whole numbers from start up to (not including) stop, as in Python: range(3) is [0, 1, 2] (1..4 is the same as range(1, 4))") { args, _ in
            let (start, stop) = args.has("stop") ? (args.int("start"), args.int("stop")) : (0, args.int("start"))
            let step = args.int("step")
            guard step != 0 else { throw args.error("step", "step must not be 0") }
            let count = step > 0 ? max(0, (stop - start + step - 1) / step) : max(0, (start - stop - step - 1) / -step)
            guard count <= Limits.rangeLength else { throw args.error(nil, "range(...) would have \(count) numbers; at most \(Limits.rangeLength)") }
            return .list((0..<count).map { .number(Double(start + $0 * step)) })
        })
        var time = Builtin("time", [Parameter("expression", .function, "any expression; it is evaluated inside time(...)")],
                           summary: "evaluate an expression, print its wall time and return its value (like IPython's %time)",
                           details: "e = time(experiment(pool, model, cec()).finish()) prints e.g. \"wall time: 12.3 s\" and keeps the result.") { args, interp in
            let started = DispatchTime.now().uptimeNanoseconds
            let value = try interp.call(args["expression"], [], args.callLocation)
            interp.host.print("wall time: " + formatSeconds(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9))
            return value
        }
        time.deferredArguments = true
        r.register(time)
    }

    /// Seconds as people read them: "850 ms", "4.21 s", "2 min 5.3 s".
    static func formatSeconds(_ s: Double) -> String {
        if s < 1 { return String(format: "%.0f ms", s * 1000) }
        if s < 60 { return String(format: "%.2f s", s) }
        return "\(Int(s / 60)) min " + String(format: "%.1f s", s.truncatingRemainder(dividingBy: 60))
    }

    /// Numbers by value or strings alphabetically; a mix is an error.
    static func sorted(_ args: Arguments, _ name: String) throws -> [Value] {
        let items = args[name].elements ?? []
        guard !items.isEmpty else { throw args.error(name, "the list is empty") }
        if items.allSatisfy({ if case .string = $0 { return true }; return false }) {
            return items.sorted { a, b in
                if case .string(let x) = a, case .string(let y) = b { return x < y }
                return false
            }
        }
        let keyed = try zip(args.numbers(name), items).map { ($0, $1) }
        return keyed.sorted { $0.0 < $1.0 }.map(\.1)
    }
}
