// Owner of preallocated, zero-initialised Float buffers (activations, caches), freed together.

/// Allocates zeroed Float buffers and frees them all when released. Hot loops use the raw pointers,
/// so nothing is allocated per step, per sample or per token.
public final class Scratch {
    private var blocks: [(UnsafeMutablePointer<Float>, Int)] = []
    public init() {}
    deinit { for (p, _) in blocks { p.deallocate() } }

    /// A new zeroed buffer of `count` floats, valid while this `Scratch` lives.
    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
        blocks.append((p, count))
        return p
    }

    /// Total floats held (for memory reports).
    public var totalFloats: Int { blocks.reduce(0) { $0 + $1.1 } }
}
