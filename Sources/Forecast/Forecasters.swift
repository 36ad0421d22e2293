// The two forecasters behind `synth forecast`: classical AR(p) (DSP's ARModel) and the neural forecaster (ForecastNet)
// trained on the series by the shared Trainer and sampled through the shared generation loop.
import AREngine
import DSP
import Foundation
import NNCore

/// AR(p) by Yule-Walker with the order chosen by AIC (`ARModel.selectOrder`) or given, on the series or on its first
/// differences (ARIMA(p, 1, 0): the differences' mean is the drift, and the forecast is integrated back).
public struct ClassicalForecaster: Sendable {
    /// The order, or nil to choose it by AIC over `0...maxOrder`.
    public var order: Int?
    public var maxOrder: Int
    /// Whether the model runs around a least-squares linear trend rather than the mean.
    public var trend: Bool
    /// Whether the model is fitted to the first differences `x[t] - x[t-1]`.
    public var difference: Bool

    public init(order: Int? = nil, maxOrder: Int = 30, trend: Bool = false, difference: Bool = false) {
        self.order = order
        self.maxOrder = maxOrder
        self.trend = trend
        self.difference = difference
    }

    /// Values a fit needs (`ARModel.fitYuleWalker`): the order + 2, + 1 more with a trend, + 1 more with differences.
    public var needed: Int { (order ?? 0) + (trend ? 3 : 2) + (difference ? 1 : 0) }

    /// The fitted model and its forecast of `horizon` steps after `x` with central intervals of probability `level`.
    /// With `difference`, the forecast of `x` is `x[n-1]` plus the forecast differences summed, and its variance
    /// `sigma^2 sum_{j<h} (sum_{i<=j} psi_i)^2` (the psi-weights of the integrated process).
    /// - Throws: `ARModelError`.
    public func forecast(_ x: [Double], horizon: Int, level: Double) throws -> (model: ARModel, table: ForecastTable) {
        let series = difference ? zip(x.dropFirst(), x).map { $0 - $1 } : x
        let model = try order.map { try ARModel.fitYuleWalker(series, order: $0, trend: trend) }
            ?? ARModel.selectOrder(series, maxOrder: maxOrder, trend: trend).model
        let f = model.forecast(history: series, horizon: horizon, level: level)
        var rows = f.enumerated().map { ForecastTable.Row(step: $0.offset + 1, point: $0.element.mean, lower: $0.element.lower, upper: $0.element.upper) }
        if difference {
            let psi = model.psiWeights(horizon), z = ARModel.normalQuantile(0.5 + level / 2)
            var value = x[x.count - 1], psiSum = 0.0, variance = 0.0
            for h in 0..<horizon {
                value += f[h].mean
                psiSum += psi[h]
                variance += psiSum * psiSum * model.noiseVariance
                let sd = variance.squareRoot()
                rows[h] = ForecastTable.Row(step: h + 1, point: value, lower: value - z * sd, upper: value + z * sd)
            }
        }
        let how = order == nil ? "order by AIC over 0...\(maxOrder)" : "order given"
        let on = difference ? " of the first differences" : ""
        let name = "AR(\(model.order))\(on) by Yule-Walker\(trend ? " around a linear trend" : ""), \(how)"
        return (model, ForecastTable(rows: rows, level: level, model: name))
    }
}

/// Random training windows of a quantised series (`SeriesBatch`) with Gaussian input noise, all drawn with the
/// trainer's RNG; no validation set (the forecaster is fitted to the whole series given, as the AR model is).
public struct SeriesTrainingData: TrainingData {
    public let bins: [Int]
    public let time: Int
    public let scoredFrom: Int
    public let batchSize: Int
    /// Standard deviation of the input noise, in the network's [-1, 1] input units (0: none).
    public let noise: Float

    /// Windows of `time + 1` bins: the receptive field + 32 (at most the series), scored after the first `scoredFrom`
    /// (the receptive field - 1, at most half the window).
    public init(bins: [Int], receptiveField: Int, batchSize: Int, noise: Float) {
        self.bins = bins
        time = min(bins.count - 1, receptiveField + 32)
        scoredFrom = min(receptiveField - 1, time / 2)
        self.batchSize = batchSize
        self.noise = noise
    }

    public func trainingBatch(rng: inout Xoshiro256) -> SeriesBatch {
        let starts = bins.count - time  // windows start in 0..<starts
        let windows = (0..<batchSize).map { _ -> [Int] in
            let s = Int(rng.next() % UInt64(starts))
            return Array(bins[s...(s + time)])
        }
        guard noise > 0 else { return SeriesBatch(windows: windows, scoredFrom: scoredFrom) }
        let jitter = (0..<batchSize).map { _ in (0..<time).map { _ in noise * rng.nextGaussian() } }
        return SeriesBatch(windows: windows, scoredFrom: scoredFrom, inputNoise: jitter)
    }

    public func validationBatches() -> [SeriesBatch] { [] }
}

/// The neural forecaster: a `ForecastNet` fitted to the series by the shared `Trainer`, then `paths` futures sampled
/// through `Generation.sample`, whose per-step median is the point forecast and whose quantiles bound the interval.
public struct NeuralForecaster {
    public var bins = 64
    public var layers = 7
    public var channels = 16
    public var steps = 400
    public var batchSize = 8
    public var learningRate: Float = 2e-3
    /// Input noise of training (`SeriesTrainingData.noise`).
    public var noise: Float = 0.1
    public var paths = 200
    public var trend = false
    /// Whether the model reads and predicts the first differences (`SeriesScaling.difference`).
    public var difference = false
    public var seed: UInt64 = 1

    public init() {}

    /// Dilations 1, 2, 4, ... (`layers` of them): the receptive field is `2^layers` steps.
    public var dilations: [Int] { (0..<layers).map { 1 << $0 } }

    /// Values a fit needs (fewer leave nothing to learn from).
    public var needed: Int { difference ? 17 : 16 }

    /// A fresh, initialised model for the series `x`.
    /// - Throws: `ARModelError` (a series too short or constant for its scaling).
    public func makeModel(for x: [Double]) throws -> ForecastNet {
        let config = ForecastNetConfig(bins: bins, dilations: dilations, residualChannels: channels, gateChannels: 2 * channels,
                                       skipChannels: 2 * channels, scaling: try SeriesScaling.fit(x, trend: trend, difference: difference))
        let net = ForecastNet(config: config)
        net.initialize(seed: seed)
        return net
    }

    /// Trains `net` on `x` for `steps` Adam steps (warm-up 5 %, cosine to a tenth of the peak rate).
    /// - Returns: the mean training loss of the last 10 % of the steps, in nats per step.
    public func train(_ net: ForecastNet, on x: [Double], report: (TrainingEvent) -> Void = { _ in }) throws -> Double {
        let c = net.config
        let q = c.scaling.modelled(x).enumerated().map { c.scaling.bin($0.element, at: $0.offset, bins: c.bins) }
        let data = SeriesTrainingData(bins: q, receptiveField: c.receptiveField, batchSize: batchSize, noise: noise)
        let schedule = LearningRateSchedule(peak: learningRate, warmupSteps: max(1, steps / 20), totalSteps: steps, minLR: learningRate / 10)
        let options = TrainingOptions(steps: steps, schedule: schedule, checkpointEvery: steps + 1, validateEvery: steps + 1,
                                      logEvery: max(1, steps / 10), seed: seed)
        let trainer = Trainer(model: net, options: options, checkpoints: nil)
        var last = Double.nan
        try trainer.train(data, configJSON: Data()) { event in
            if case .train(_, let loss, _, _, _, _) = event { last = loss }
            report(event)
        }
        return last
    }

    /// `paths` sampled futures of `horizon` steps after `x` (seeds `seed`, `seed + 1`, ...), each primed with the last
    /// receptive field of `x`; the point forecast is the per-step median, the interval the central quantiles of
    /// probability `level`. Progress counts futures.
    public func forecast(_ net: ForecastNet, after x: [Double], horizon: Int, level: Double,
                         progress: (ProgressReport) -> Void = { _ in }) throws -> ForecastTable {
        let c = net.config, m = c.scaling.modelled(x), n = m.count
        let prompt = (max(0, n - c.receptiveField)..<n).map { c.scaling.bin(m[$0], at: $0, bins: c.bins) }
        var futures = [[Double]](repeating: [], count: horizon)
        for p in 0..<paths {
            var sampler = try Sampler(temperature: 1, seed: seed &+ UInt64(p))
            let bins = Generation.sample(net, prompt: prompt, options: GenerationOptions(maxNewTokens: horizon), sampler: &sampler).tokens
            var level = x[x.count - 1]  // with differences, each path is integrated from the last value
            for (h, q) in bins.enumerated() {
                let v = c.scaling.value(bin: q, at: n + h, bins: c.bins)
                level += v
                futures[h].append(c.scaling.difference ? level : v)
            }
            progress(ProgressReport(done: p + 1, total: paths, unit: "futures"))
        }
        let rows = futures.enumerated().map { h, v -> ForecastTable.Row in
            let s = v.sorted()
            return ForecastTable.Row(step: h + 1, point: Self.quantile(s, 0.5), lower: Self.quantile(s, (1 - level) / 2),
                                     upper: Self.quantile(s, (1 + level) / 2))
        }
        return ForecastTable(rows: rows, level: level, model: "neural: \(net.summary), \(paths) sampled futures")
    }

    /// The `q` quantile of sorted values, linearly interpolated between order statistics (numpy's default, "linear").
    public static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        precondition(!sorted.isEmpty && q >= 0 && q <= 1, "quantile of an empty list or q outside [0, 1]")
        let pos = q * Double(sorted.count - 1), i = Int(pos.rounded(.down)), f = pos - Double(i)
        return i + 1 < sorted.count ? sorted[i] + f * (sorted[i + 1] - sorted[i]) : sorted[i]
    }
}
