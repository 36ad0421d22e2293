// A seeded, reproducible random number generator (xoshiro256**, Blackman & Vigna 2018).

/// xoshiro256** pseudo-random generator.
///
/// `SystemRandomNumberGenerator` cannot be seeded, so everything that must be reproducible
/// (weight init, training batches, sampling) draws from this. Its 256-bit state can be saved in
/// a checkpoint (`state`) and restored with `init(state:)`.
public struct Xoshiro256: RandomNumberGenerator, Codable, Equatable, Sendable {
    /// The four 64-bit state words. Never all zero.
    public private(set) var state: [UInt64]

    /// Seeds the generator by expanding `seed` with SplitMix64, as the xoshiro authors recommend.
    public init(seed: UInt64) {
        var z = seed
        var s = [UInt64](repeating: 0, count: 4)
        for i in 0..<4 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            s[i] = x ^ (x >> 31)
        }
        state = s
    }

    /// Restores a saved state. - Precondition: four words, not all zero.
    public init(state: [UInt64]) {
        precondition(state.count == 4 && state.contains { $0 != 0 }, "xoshiro256 state must be 4 words, not all zero")
        self.state = state
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = Self.rotl(state[3], 45)
        return result
    }

    /// Uniform in [0, 1) with 24 bits of precision.
    @inline(__always)
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform integer in 0..<n. - Precondition: n > 0.
    @inline(__always)
    public mutating func nextInt(below n: Int) -> Int {
        precondition(n > 0)
        return Int(next() % UInt64(n))
    }

    /// Standard normal sample (Box-Muller).
    public mutating func nextGaussian() -> Float {
        var u1 = nextFloat()
        if u1 < 1e-7 { u1 = 1e-7 }
        let u2 = nextFloat()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * Float.pi * u2)
    }
}

/// Picks indices at random in proportion to integer weights (e.g. the usable lengths of training pieces), by one
/// draw of `Xoshiro256.nextInt(below: total)` and a binary search of the cumulative weights.
public struct WeightedPicker: Sendable {
    /// Running sums of the weights: `cumulative[i]` is the sum of weights `0...i`.
    public let cumulative: [Int]
    /// The sum of the weights.
    public var total: Int { cumulative.last ?? 0 }

    /// - Precondition: the weights are >= 0 and their sum is > 0.
    public init(weights: [Int]) {
        var sum = 0
        cumulative = weights.map { precondition($0 >= 0, "negative weight \($0)"); sum += $0; return sum }
        precondition(sum > 0, "WeightedPicker needs a positive total weight")
    }

    /// Index `i` with probability `weight[i] / total`.
    public func pick(_ rng: inout Xoshiro256) -> Int {
        let r = rng.nextInt(below: total)
        var lo = 0, hi = cumulative.count - 1
        while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] > r { hi = mid } else { lo = mid + 1 } }
        return lo
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
