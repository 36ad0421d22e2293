// Upper bounds on the sizes a model config may ask for, checked before anything is allocated.

/// Bounds every model config is checked against when it is loaded (`WaveNetConfig.validate`,
/// `TransformerConfig.validate`), before its weights file is read or anything is allocated.
///
/// A config.json comes from a downloaded folder and is untrusted: without bounds, a config claiming
/// `residual_channels` 1,048,576 or `vocab_size` 2^20 allocates gigabytes before its weights are checked. The
/// per-field bounds (in each config's `validate`) keep every product of sizes within 64 bits; these two bound the
/// totals. The shipped models are far below them (voices/default: 932,336 parameters; voices/music: 926,342
/// parameters and a KV cache of 131,072 floats per sequence). docs/architecture.md lists them all.
public enum ModelLimits {
    /// Most parameters (floats) of one model: 2^28 = 268,435,456 (1 GiB of weights, and as much for gradients).
    public static let maxParameters = 1 << 28
    /// Most floats of generation state per sequence that a config implies (the WaveNet's per-layer queues,
    /// the transformer's KV cache): 2^27 = 134,217,728 (512 MiB).
    public static let maxStateFloats = 1 << 27
    /// Largest config.json read: 4 MiB (the shipped ones are under 6 KB).
    public static let maxConfigBytes = 4 << 20
}
