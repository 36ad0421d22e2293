// A music model's defaults for the decoding processors of `synth music generate`, in its generation_config.json.
import AREngine
import MIDI
import Foundation

/// The continuation settings a music model folder recommends, read from the same `generation_config.json` as its
/// sampling defaults (`GenerationConfig`), under keys of their own (every key optional):
///
/// - `prime_cut`: `"exact"` or `"beat"` (`PrimeCut`);
/// - `max_note_seconds`: seconds, or `"prime+S"` (the prime's longest note plus S), in [0.01, 60], or `"off"` (`NoteRelease`);
/// - `max_polyphony`: notes, or `"prime+N"`, a whole number in 1...128, or `"off"` (`NoteRelease`);
/// - `key_bias`: nats in [0, 100], 0 = off (`ScaleBias`, against notes outside the prime's scale);
/// - `key_profile_bias`: a weight in [0, 100], 0 = off (`ScaleBias`, toward the prime key's Krumhansl-Kessler profile);
/// - `snap_to_prime_grid`: true or false;
/// - `ngram_cache`: `{"order": N, "weights": [...]}`, an n-gram cache of the piece mixed with the model (`NGramCache`,
///   `NGramCacheSettings`: N in 1...12, N × 8 weights in [0, 1]; written by `synth music eval --fit-ngram-cache N --save`).
///
/// A number may be given as a JSON number or a string. `synth music generate` takes a key when its option is not
/// given, and only with a prime (every one of them reads the prime; without one they are skipped) and only when it
/// samples (not with `--beam`). Without the file nothing changes.
public struct MusicGenerationConfig: Decodable, Equatable, Sendable {
    public var primeCut: PrimeCut?
    public var maxNoteSeconds: String?
    public var maxPolyphony: String?
    public var keyBias: Float?
    public var keyProfileBias: Float?
    public var snapToPrimeGrid: Bool?
    public var ngramCache: NGramCacheSettings?

    enum CodingKeys: String, CodingKey {
        case primeCut = "prime_cut", maxNoteSeconds = "max_note_seconds", maxPolyphony = "max_polyphony"
        case keyBias = "key_bias", keyProfileBias = "key_profile_bias", snapToPrimeGrid = "snap_to_prime_grid"
        case ngramCache = "ngram_cache"
    }

    public init(primeCut: PrimeCut? = nil, maxNoteSeconds: String? = nil, maxPolyphony: String? = nil, keyBias: Float? = nil,
                keyProfileBias: Float? = nil, snapToPrimeGrid: Bool? = nil, ngramCache: NGramCacheSettings? = nil) {
        self.primeCut = primeCut
        self.maxNoteSeconds = maxNoteSeconds
        self.maxPolyphony = maxPolyphony
        self.keyBias = keyBias
        self.keyProfileBias = keyProfileBias
        self.snapToPrimeGrid = snapToPrimeGrid
        self.ngramCache = ngramCache
    }

    public init(from decoder: Decoder) throws {
        let k = try decoder.container(keyedBy: CodingKeys.self)
        /// A limit as a string ("prime+1", "2.5") or a number (2.5).
        func limit(_ key: CodingKeys) throws -> String? {
            guard k.contains(key), try !k.decodeNil(forKey: key) else { return nil }
            if let s = try? k.decode(String.self, forKey: key) { return s }
            let d = try k.decode(Double.self, forKey: key)
            return d == d.rounded() && abs(d) < 1e9 ? String(Int(d)) : String(d)
        }
        if let raw = try k.decodeIfPresent(String.self, forKey: .primeCut) {
            guard let cut = PrimeCut(rawValue: raw) else {
                throw DecodingError.dataCorruptedError(forKey: .primeCut, in: k, debugDescription: "must be exact or beat, got \(raw)")
            }
            primeCut = cut
        }
        maxNoteSeconds = try limit(.maxNoteSeconds)
        maxPolyphony = try limit(.maxPolyphony)
        keyBias = try k.decodeIfPresent(Float.self, forKey: .keyBias)
        keyProfileBias = try k.decodeIfPresent(Float.self, forKey: .keyProfileBias)
        snapToPrimeGrid = try k.decodeIfPresent(Bool.self, forKey: .snapToPrimeGrid)
        ngramCache = try k.decodeIfPresent(NGramCacheSettings.self, forKey: .ngramCache)
    }

    /// True when no key is set.
    public var isEmpty: Bool { self == MusicGenerationConfig() }

    /// The keys that are set, as the note of `synth music generate` names them, in key order.
    public var summary: String {
        var parts: [String] = []
        if let v = keyBias { parts.append("key_bias \(String(format: "%g", Double(v)))") }
        if let v = keyProfileBias { parts.append("key_profile_bias \(String(format: "%g", Double(v)))") }
        if let v = maxNoteSeconds { parts.append("max_note_seconds \(v)") }
        if let v = maxPolyphony { parts.append("max_polyphony \(v)") }
        if let v = primeCut { parts.append("prime_cut \(v.rawValue)") }
        if let v = snapToPrimeGrid { parts.append("snap_to_prime_grid \(v)") }
        if let v = ngramCache { parts.append("ngram_cache order \(v.order)") }
        return parts.joined(separator: ", ")
    }

    /// `S` or `prime+S` with S in [0.01, 60] seconds, or `off`.
    public static func isValidMaxNoteSeconds(_ text: String) -> Bool {
        text == "off" || NoteRelease.limit(text, prime: 0).map { $0 >= 0.01 && $0 <= 60 } ?? false
    }

    /// `N` or `prime+N` with N a whole number in 1...128, or `off`.
    public static func isValidMaxPolyphony(_ text: String) -> Bool {
        text == "off" || NoteRelease.limit(text, prime: 1).map { $0 >= 1 && $0 <= 128 && $0 == $0.rounded() } ?? false
    }

    /// In [0, 100] (nats for `key_bias`, a weight for `key_profile_bias`).
    public static func isValidKeyBias(_ value: Float) -> Bool { value >= 0 && value <= 100 }

    /// The music keys of the model folder `dir`'s generation_config.json, or nil without the file.
    /// - Throws: `ModelFolderError` (`.unreadable`, `.invalidJSON`, or `.key` naming a key of the wrong type or out of
    ///   range: "FILE: key 'max_polyphony': must be N or prime+N with N a whole number in 1...128, got 0").
    public static func load(folder dir: URL) throws -> MusicGenerationConfig? {
        guard let (data, file) = try GenerationConfig.contents(folder: dir) else { return nil }
        let config = try ModelFolder.decode(MusicGenerationConfig.self, from: data, file: file)
        if let v = config.maxNoteSeconds, !isValidMaxNoteSeconds(v) {
            throw ModelFolderError.key(file: file, key: "max_note_seconds", reason: "must be S or prime+S with S in [0.01, 60], or off, got \(v)")
        }
        if let v = config.maxPolyphony, !isValidMaxPolyphony(v) {
            throw ModelFolderError.key(file: file, key: "max_polyphony", reason: "must be N or prime+N with N a whole number in 1...128, or off, got \(v)")
        }
        if let v = config.keyBias, !isValidKeyBias(v) {
            throw ModelFolderError.key(file: file, key: "key_bias", reason: "must be in [0, 100], got \(v)")
        }
        if let v = config.ngramCache, let problem = v.problem(vocabularySize: MusicEncoding.performancePrograms.vocabularySize) {
            throw ModelFolderError.key(file: file, key: "ngram_cache", reason: problem)
        }
        if let v = config.keyProfileBias, !isValidKeyBias(v) {
            throw ModelFolderError.key(file: file, key: "key_profile_bias", reason: "must be in [0, 100], got \(v)")
        }
        return config
    }
}
