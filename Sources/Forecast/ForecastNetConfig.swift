// Config of the neural forecaster (`"model_type": "forecast_wavenet"`): the bins, the stack's sizes and the scaling
// that maps the series' values onto the bins.
import AREngine
import DSP
import Foundation
import NNCore

/// Problems with a forecaster's config.json, one line naming the file, the field and the value.
public enum ForecastModelError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(file: String, reason: String)

    public var description: String {
        switch self {
        case .invalidConfig(let f, let r): return "\(f): \(r)"
        }
    }
}

/// How the values of a series map onto `bins` classes and back: an optional least-squares linear trend is removed
/// (`level(at:)`), and the rest, `y = x - level(t)`, is quantised uniformly over `low...high` (the training series'
/// range widened by a margin, so a forecast can go a little beyond what was seen).
///
/// Uniform bins rather than mu-law: mu-law spends its resolution near zero, which suits audio amplitudes; a
/// detrended series is spread over its whole range (the sunspot cycle's peaks matter as much as its troughs).
public struct SeriesScaling: Codable, Equatable, Sendable {
    /// Whether `slope` is used (a linear trend), or only the mean (`intercept`).
    public var trend: Bool
    /// The level `intercept + slope * t` at time index `t` (0 at the first training value), in the series' units.
    public var intercept: Double
    public var slope: Double
    /// The detrended values mapped onto the first and last bins' centres, in the series' units (`low < high`).
    public var low: Double
    public var high: Double
    /// Whether the model reads and predicts the first differences `x[t] - x[t-1]` (whose mean is the drift) rather
    /// than the values; a forecast is then integrated back. Absent in a config.json: false.
    public var difference: Bool

    enum CodingKeys: String, CodingKey { case trend, intercept, slope, low, high, difference }

    public init(trend: Bool, intercept: Double, slope: Double, low: Double, high: Double, difference: Bool = false) {
        self.trend = trend
        self.intercept = intercept
        self.slope = slope
        self.low = low
        self.high = high
        self.difference = difference
    }

    public init(from decoder: Decoder) throws {
        let k = try decoder.container(keyedBy: CodingKeys.self)
        self.init(trend: try k.decode(Bool.self, forKey: .trend), intercept: try k.decode(Double.self, forKey: .intercept),
                  slope: try k.decode(Double.self, forKey: .slope), low: try k.decode(Double.self, forKey: .low),
                  high: try k.decode(Double.self, forKey: .high),
                  difference: try k.decodeIfPresent(Bool.self, forKey: .difference) ?? false)
    }

    /// What the model reads of a series `x`: `x` itself, or with `difference` its first differences (one fewer).
    public func modelled(_ x: [Double]) -> [Double] { difference ? zip(x.dropFirst(), x).map { $0 - $1 } : x }

    /// The scaling of a training series: its mean or least-squares trend (`ARModel.fitYuleWalker` of order 0, the
    /// one fit of the level in `DSP`), and the range of the rest widened by `margin` times that range on each side;
    /// with `difference`, all of it of the first differences.
    /// - Throws: `ARModelError` (too short, constant, not finite).
    public static func fit(_ x: [Double], trend: Bool, difference: Bool = false, margin: Double = 0.25) throws -> SeriesScaling {
        let d = SeriesScaling(trend: trend, intercept: 0, slope: 0, low: 0, high: 1, difference: difference).modelled(x)
        let m = try ARModel.fitYuleWalker(d, order: 0, trend: trend)
        let y = d.enumerated().map { $0.element - m.level(at: $0.offset) }
        let lo = y.min()!, hi = y.max()!, pad = margin * (hi - lo)
        return SeriesScaling(trend: trend, intercept: m.intercept, slope: m.slope, low: lo - pad, high: hi + pad, difference: difference)
    }

    /// The level removed at time index `t`.
    public func level(at t: Int) -> Double { intercept + (trend ? slope * Double(t) : 0) }

    /// The bin of value `x` at time index `t` (values outside the range go to the end bins).
    public func bin(_ x: Double, at t: Int, bins: Int) -> Int {
        let u = (x - level(at: t) - low) / (high - low) * Double(bins - 1)
        return min(bins - 1, max(0, Int(u.rounded())))
    }

    /// The value of bin `q`'s centre at time index `t`.
    public func value(bin q: Int, at t: Int, bins: Int) -> Double {
        low + (high - low) * Double(q) / Double(bins - 1) + level(at: t)
    }

    /// What the network reads for bin `q`: its centre mapped linearly onto [-1, 1].
    public static func input(bin q: Int, bins: Int) -> Float { 2 * Float(q) / Float(bins - 1) - 1 }
}

/// Config of the neural forecaster: a WaveNet stack over the quantised series (`ForecastNet`).
public struct ForecastNetConfig: Codable, Equatable, Sendable, ModelConfiguration {
    public var modelType: String = "forecast_wavenet"
    /// Number of value classes (uniform bins over the scaling's range).
    public var bins: Int
    /// Dilation of each layer, in time steps; the receptive field is 1 + their sum.
    public var dilations: [Int]
    /// Channels of the residual stream (R), the gated convolutions (G, tanh and sigmoid halves) and the skip sum (S).
    public var residualChannels: Int
    public var gateChannels: Int
    public var skipChannels: Int
    /// The map between values and bins, fitted on the training series.
    public var scaling: SeriesScaling

    enum CodingKeys: String, CodingKey {
        case bins, dilations, scaling
        case modelType = "model_type"
        case residualChannels = "residual_channels"
        case gateChannels = "gate_channels"
        case skipChannels = "skip_channels"
    }

    public init(bins: Int, dilations: [Int], residualChannels: Int, gateChannels: Int, skipChannels: Int, scaling: SeriesScaling) {
        self.bins = bins
        self.dilations = dilations
        self.residualChannels = residualChannels
        self.gateChannels = gateChannels
        self.skipChannels = skipChannels
        self.scaling = scaling
    }

    /// The stack's sizes.
    public var stack: CausalConvShape {
        CausalConvShape(dilations: dilations, residualChannels: residualChannels, gateChannels: gateChannels, skipChannels: skipChannels)
    }

    /// Time steps the model reads back: 1 + the sum of the dilations.
    public var receptiveField: Int { stack.receptiveField }

    /// - Throws: `ForecastModelError.invalidConfig` naming the field and value.
    public func validate(file: String = "config.json") throws {
        func fail(_ r: String) -> ForecastModelError { .invalidConfig(file: file, reason: r) }
        guard modelType == "forecast_wavenet" else { throw fail("model_type must be \"forecast_wavenet\", got \"\(modelType)\"") }
        guard (2...65536).contains(bins) else { throw fail("bins must be in 2...65536, got \(bins)") }
        if let p = stack.problem { throw fail(p) }
        let s = scaling
        guard [s.intercept, s.slope, s.low, s.high].allSatisfy(\.isFinite), s.low < s.high else {
            throw fail("scaling: intercept, slope, low and high must be finite numbers with low < high, got \(s)")
        }
        let parameters = ForecastNet.layout(self).count
        guard parameters <= ModelLimits.maxParameters else {
            throw fail("the model would have \(parameters) parameters, more than the limit of \(ModelLimits.maxParameters)")
        }
    }
}
