// A model folder's recommended sampling settings: generation_config.json, beside config.json.
import AtomicIO
import Foundation
import NNCore

/// The sampling settings a model folder recommends, read from `generation_config.json` beside its config.json: the
/// file and key names of Hugging Face transformers' `GenerationConfig` (`temperature`, `top_k`, `top_p`, `min_p`,
/// `repetition_penalty`; every key optional, other keys ignored). A command that draws from the model uses a key
/// when its own option is not given; an option given on the command line wins. Without the file (every model saved
/// by `synth` so far) nothing changes.
///
/// Units and ranges are the `Sampler`'s: temperature finite and >= 0 (0 = greedy), top_k >= 0 (0 = off), top_p in
/// (0, 1], min_p in [0, 1), repetition_penalty finite and > 0.
public struct GenerationConfig: Codable, Equatable, Sendable {
    public var temperature: Float?
    public var topK: Int?
    public var topP: Float?
    public var minP: Float?
    public var repetitionPenalty: Float?

    public static let fileName = "generation_config.json"

    enum CodingKeys: String, CodingKey {
        case temperature, topK = "top_k", topP = "top_p", minP = "min_p", repetitionPenalty = "repetition_penalty"
    }

    public init(temperature: Float? = nil, topK: Int? = nil, topP: Float? = nil, minP: Float? = nil, repetitionPenalty: Float? = nil) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
    }

    /// True when no key is set.
    public var isEmpty: Bool { self == GenerationConfig() }

    /// The keys that are set, as `synth voices` lists them ("min_p 0.1, temperature 0.9"), in key order.
    public var summary: String {
        func f(_ v: Float) -> String { String(format: "%g", Double(v)) }
        var parts: [String] = []
        if let v = minP { parts.append("min_p \(f(v))") }
        if let v = repetitionPenalty { parts.append("repetition_penalty \(f(v))") }
        if let v = temperature { parts.append("temperature \(f(v))") }
        if let v = topK { parts.append("top_k \(v)") }
        if let v = topP { parts.append("top_p \(f(v))") }
        return parts.joined(separator: ", ")
    }

    /// The generation config of the model folder `dir`, or nil when it has no generation_config.json.
    /// - Throws: `ModelFolderError.unreadable` (not a regular file, or larger than `ModelLimits.maxConfigBytes`),
    ///   `.invalidJSON`, or `.key` for a key of the wrong type or out of its range ("FILE: key 'top_p': must be in
    ///   (0, 1], got 1.5").
    public static func load(folder dir: URL) throws -> GenerationConfig? {
        guard let (data, file) = try contents(folder: dir) else { return nil }
        let config = try ModelFolder.decode(GenerationConfig.self, from: data, file: file)
        try config.validate(file: file)
        return config
    }

    /// The bytes of the model folder `dir`'s generation_config.json and its path, or nil without the file: what every
    /// reader of the file's keys starts from.
    /// - Throws: `ModelFolderError.unreadable` for a file that is not regular or larger than `ModelLimits.maxConfigBytes`.
    public static func contents(folder dir: URL) throws -> (data: Data, file: String)? {
        let url = dir.appendingPathComponent(fileName)
        do { return (try BoundedRead.contents(of: url, limit: ModelLimits.maxConfigBytes), url.path) } catch let p as BoundedRead.Problem {
            if p == .missing { return nil }
            throw ModelFolderError.unreadable(file: url.path, reason: "\(p)")
        }
    }

    /// Checks every key that is set against the `Sampler`'s ranges.
    /// - Throws: `ModelFolderError.key` naming the first key out of range.
    public func validate(file: String) throws {
        func check(_ key: String, _ make: () throws -> Sampler) throws {
            do { _ = try make() } catch let e as SamplerError {
                let text = e.description
                let reason = text.range(of: "must ").map { String(text[$0.lowerBound...]) } ?? text
                throw ModelFolderError.key(file: file, key: key, reason: reason)
            }
        }
        if let v = temperature { try check("temperature") { try Sampler(temperature: v) } }
        if let v = topK { try check("top_k") { try Sampler(topK: v) } }
        if let v = topP { try check("top_p") { try Sampler(topP: v) } }
        if let v = minP { try check("min_p") { try Sampler(minP: v) } }
        if let v = repetitionPenalty { try check("repetition_penalty") { try Sampler(repetitionPenalty: v) } }
    }
}
