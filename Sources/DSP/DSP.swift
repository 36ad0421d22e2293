// TEMPORARY stub until the DSP branch lands.
public struct FeatureConfig: Codable, Equatable, Sendable {
    public var sampleRate = 16000, nFFT = 1024, winLength = 800, hopLength = 200, nMels = 80
    public var fmin: Float = 50, fmax: Float = 7600, logFloor: Float = 1e-5
    public static let `default` = FeatureConfig()
    public func validate() throws {}
}
