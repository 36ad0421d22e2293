// Owner of preallocated, zero-initialised Float buffers (activations, caches), freed together; workspaces by shape.

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

/// A model's workspaces (saved activations and scratch for one batch shape), kept by shape (e.g. `[batch, time]`), at
/// most `capacity` of them: when a new shape arrives and the cache is full, the least recently used one is dropped, so
/// a model scored on ever-new shapes holds bounded memory. Not thread-safe: one cache per model per thread.
public final class WorkspaceCache<Workspace: AnyObject> {
    public let capacity: Int
    private var entries: [(shape: [Int], workspace: Workspace)] = []  // most recently used last

    /// - Precondition: `capacity >= 1`.
    public init(capacity: Int = 4) {
        precondition(capacity >= 1, "a workspace cache holds at least one workspace")
        self.capacity = capacity
    }

    /// The workspace for `shape`, made by `make` (and kept) the first time.
    public func workspace(for shape: [Int], make: () -> Workspace) -> Workspace {
        if let i = entries.firstIndex(where: { $0.shape == shape }) {
            let hit = entries.remove(at: i)
            entries.append(hit)
            return hit.workspace
        }
        if entries.count == capacity { entries.removeFirst() }
        let ws = make()
        entries.append((shape, ws))
        return ws
    }

    /// Shapes held, least recently used first.
    public var shapes: [[Int]] { entries.map(\.shape) }
}
