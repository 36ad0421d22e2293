// Flat parameter storage: one contiguous Float buffer for weights, a twin for gradients, named views.
import AtomicIO

/// A named tensor inside a `ParameterSet`: its shape and where it lives in the flat buffer.
public struct ParameterEntry: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    /// Offset in floats from the start of the flat buffer.
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
}

/// The names, shapes and offsets of a model's tensors, without their storage: what a `ParameterSet` will hold.
///
/// A model builds the layout its config asks for once (`static func layout(_:)`), resolves the offsets its hot loops
/// use from it, and allocates a `ParameterSet(layout:)` with the same offsets. Loading checks the layout against a
/// weights file (`check(_:)`) before the `ParameterSet` is allocated, so a config claiming huge sizes allocates nothing.
public struct ParameterLayout: Sendable {
    public private(set) var entries: [ParameterEntry] = []
    /// Total floats of all tensors.
    public private(set) var count = 0
    private var index: [String: Int] = [:]

    public init() {}

    /// Appends a tensor and returns its offset. - Precondition: the name is new, every dimension is > 0, and the
    /// total stays within `Int` (configs are validated against bounds before their layout is built).
    @discardableResult
    public mutating func add(_ name: String, shape: [Int]) -> Int {
        precondition(index[name] == nil, "duplicate parameter \(name)")
        precondition(shape.allSatisfy { $0 > 0 }, "parameter \(name) has an empty shape \(shape)")
        let entry = ParameterEntry(name: name, shape: shape, offset: count)
        index[name] = entries.count
        entries.append(entry)
        count += entry.count
        return entry.offset
    }

    public func entry(_ name: String) -> ParameterEntry? { index[name].map { entries[$0] } }

    /// The offset of tensor `name`. - Precondition: it exists (a model asks only for tensors its layout added).
    public func offset(_ name: String) -> Int {
        guard let e = entry(name) else { preconditionFailure("unknown parameter \(name)") }
        return e.offset
    }

    /// Checks that `file` holds exactly these tensors with these shapes (dtypes and sizes were checked when it was
    /// parsed). Allocates nothing.
    /// - Throws: `TensorFileError.missingTensor`, `.shapeMismatch` or `.unexpectedTensor`, naming the tensor.
    public func check(_ file: SafeTensorsFile) throws {
        for e in entries {
            guard let t = file.entries[e.name] else { throw TensorFileError.missingTensor(file: file.path, name: e.name) }
            guard t.shape == e.shape else {
                throw TensorFileError.shapeMismatch(file: file.path, name: e.name, expected: e.shape, actual: t.shape)
            }
        }
        for name in file.entries.keys.sorted() where index[name] == nil {
            throw TensorFileError.unexpectedTensor(file: file.path, name: MessageText.excerpt(name))
        }
    }
}

/// All parameters of a model in one contiguous buffer (`values`) with a gradient twin (`grads`).
///
/// Zeroing gradients, the optimizer and checkpointing are single loops over the flat buffers,
/// and each layer reads its weights through a pointer at its entry's offset (llm.c style).
/// Layout of each tensor is row-major in the order of `shape`.
public final class ParameterSet {
    /// The names, shapes and offsets of the tensors.
    public private(set) var layout = ParameterLayout()
    public var entries: [ParameterEntry] { layout.entries }
    public var count: Int { layout.count }
    public private(set) var values: UnsafeMutablePointer<Float>
    public private(set) var grads: UnsafeMutablePointer<Float>
    private var capacity = 0

    public init() {
        values = .allocate(capacity: 1)
        grads = .allocate(capacity: 1)
    }

    /// Zero-initialised storage for every tensor of `layout`, allocated once, at the layout's offsets.
    public convenience init(layout: ParameterLayout) {
        self.init()
        self.layout = layout
        reserve(layout.count)
    }

    deinit {
        values.deallocate()
        grads.deallocate()
    }

    /// Adds a zero-initialised tensor and returns its offset. - Precondition: the name is new.
    @discardableResult
    public func add(_ name: String, shape: [Int]) -> Int {
        let offset = layout.add(name, shape: shape)
        reserve(count)
        return offset
    }

    private func reserve(_ n: Int) {
        guard n > capacity else { return }
        let newCap = max(n, capacity * 2, 1024)
        let v = UnsafeMutablePointer<Float>.allocate(capacity: newCap)
        let g = UnsafeMutablePointer<Float>.allocate(capacity: newCap)
        v.initialize(repeating: 0, count: newCap)
        g.initialize(repeating: 0, count: newCap)
        if capacity > 0 {
            v.update(from: values, count: capacity)
            g.update(from: grads, count: capacity)
        }
        values.deallocate()
        grads.deallocate()
        values = v
        grads = g
        capacity = newCap
    }

    public func entry(_ name: String) -> ParameterEntry? { layout.entry(name) }

    /// Pointer to a tensor's values. - Precondition: the name exists.
    public func value(_ name: String) -> UnsafeMutablePointer<Float> {
        guard let e = entry(name) else { preconditionFailure("unknown parameter \(name)") }
        return values + e.offset
    }

    public func grad(_ name: String) -> UnsafeMutablePointer<Float> {
        guard let e = entry(name) else { preconditionFailure("unknown parameter \(name)") }
        return grads + e.offset
    }

    public func zeroGrads() { grads.update(repeating: 0, count: count) }

    /// Global L2 norm of the gradients.
    public func gradNorm() -> Float {
        var s: Double = 0
        for i in 0..<count { s += Double(grads[i]) * Double(grads[i]) }
        return Float(s.squareRoot())
    }

    /// Copies of every tensor's values, keyed by name (for saving).
    public func tensors() -> [(name: String, shape: [Int], data: UnsafeBufferPointer<Float>)] {
        entries.map { ($0.name, $0.shape, UnsafeBufferPointer(start: values + $0.offset, count: $0.count)) }
    }

    /// Fills a tensor with N(0, std^2).
    public func initNormal(_ name: String, std: Float, rng: inout Xoshiro256) {
        guard let e = entry(name) else { preconditionFailure("unknown parameter \(name)") }
        initNormal(offset: e.offset, count: e.count, std: std, rng: &rng)
    }

    /// Fills `count` floats from `offset` with N(0, std^2), drawn in order.
    public func initNormal(offset: Int, count: Int, std: Float, rng: inout Xoshiro256) {
        for i in 0..<count { values[offset + i] = rng.nextGaussian() * std }
    }

    /// Fills a tensor with U(-a, a).
    public func initUniform(_ name: String, bound a: Float, rng: inout Xoshiro256) {
        guard let e = entry(name) else { preconditionFailure("unknown parameter \(name)") }
        for i in 0..<e.count { values[e.offset + i] = (rng.nextFloat() * 2 - 1) * a }
    }

    /// Loads every tensor of a checked safetensors file, after `ParameterLayout.check` (names and shapes).
    /// - Throws: `TensorFileError.missingTensor`, `.shapeMismatch` or `.unexpectedTensor`, naming the tensor.
    public func load(_ file: SafeTensorsFile) throws {
        try layout.check(file)
        for e in entries { file.copy(e.name, to: values + e.offset) }
    }

    /// Loads every tensor from a dictionary, checking names and shapes.
    /// - Throws: `TensorFileError.missingTensor`, `.shapeMismatch` or `.unexpectedTensor`, naming the tensor.
    public func load(_ tensors: [String: (shape: [Int], data: [Float])], source: String) throws {
        for e in entries {
            guard let t = tensors[e.name] else { throw TensorFileError.missingTensor(file: source, name: e.name) }
            guard t.shape == e.shape else {
                throw TensorFileError.shapeMismatch(file: source, name: e.name, expected: e.shape, actual: t.shape)
            }
            t.data.withUnsafeBufferPointer { values.advanced(by: e.offset).update(from: $0.baseAddress!, count: e.count) }
        }
        for name in tensors.keys.sorted() where layout.entry(name) == nil {
            throw TensorFileError.unexpectedTensor(file: source, name: name)
        }
    }
}
