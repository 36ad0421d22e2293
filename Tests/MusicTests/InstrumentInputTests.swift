// Issue 22's bad inputs load with documented results in both encodings; the prime cut at a beat; the note-release
// processor; a model folder's encoding.
import AREngine
import Foundation
import MIDI
import NNCore
import XCTest
@testable import Music

final class InstrumentInputTests: XCTestCase {
    /// The files written by scripts/fixtures/instrument_fixtures.py (mido), in the MIDI tests' fixtures.
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../MIDITests/Fixtures/instruments").standardized

    func notes(_ name: String, _ encoding: MusicEncoding) throws -> [Note] {
        let p = try MusicPrime(midi: Self.folder.appendingPathComponent(name), encoding: encoding)
        return encoding.decode(p.tokens).arrangedByInstrument()
    }

    func instruments(_ notes: [Note]) -> [String: Int] {
        var c: [String: Int] = [:]
        for n in notes { c[n.channel == 9 ? "drums" : "program \(n.program)", default: 0] += 1 }
        return c
    }

    func testSixteenChannels() throws {
        let n = try notes("sixteen_channels.mid", .performancePrograms)
        XCTAssertEqual(n.count, 64)
        var expected = ["drums": 4]
        for ch in 0..<16 where ch != 9 { expected["program \(8 * ch)"] = 4 }
        XCTAssertEqual(instruments(n), expected)
        XCTAssertEqual(Set(n.map(\.track)).count, 16)
        XCTAssertEqual(try MIDIFile(data: MIDIFile(notes: n).encoded()).tracks.count, 17)  // tempo track + one per instrument
        // The performance encoding keeps every note (no two sound the same pitch at once here), as one piano stream,
        // drums included as pitches.
        let old = try notes("sixteen_channels.mid", .performance)
        XCTAssertEqual(old.count, 64)
        XCTAssertEqual(instruments(old), ["program 0": 64])
    }

    func testDrumsOnly() throws {
        let n = try notes("drums_only.mid", .performancePrograms)
        XCTAssertEqual(instruments(n), ["drums": 16])
        XCTAssertTrue(n.allSatisfy { $0.channel == 9 && [36, 38].contains($0.pitch) })
        XCTAssertEqual(instruments(try notes("drums_only.mid", .performance)), ["program 0": 16])
    }

    func testProgramChangesMidTrack() throws {
        let n = try notes("program_changes.mid", .performancePrograms)
        XCTAssertEqual(instruments(n), ["program 0": 4, "program 40": 4, "program 73": 4])
        XCTAssertEqual(n.filter { $0.program == 40 }.map(\.pitch), [67, 69, 71, 72])
        XCTAssertEqual(Set(n.map(\.track)), [0, 1, 2])
    }

    func testTrackWithNoNotes() throws {
        XCTAssertEqual(try notes("empty_track.mid", .performancePrograms).map(\.pitch), [60, 64, 67, 72])
        XCTAssertEqual(try notes("empty_track.mid", .performance).map(\.pitch), [60, 64, 67, 72])
    }

    /// 3,590 s of music: within the one-hour limit, so it loads (the CLI refuses it before generating when --wav
    /// could not render it).
    func testHugeDeltaLoads() throws {
        let p = try MusicPrime(midi: Self.folder.appendingPathComponent("huge_delta.mid"), encoding: .performancePrograms)
        XCTAssertEqual(MusicGeneration.seconds(of: p.tokens), 3590.5, accuracy: 1e-9)
    }

    /// 120 bpm: beats every 0.5 s. A cut at 1.3 s moves to 1.0 s and the prime runs on to it; exact cuts stay.
    func testPrimeCutAtABeat() throws {
        let url = Self.folder.appendingPathComponent("program_changes.mid")  // notes of 0.25 s every 0.25 s
        let beat = try MusicPrime(midi: url, maxSeconds: 1.3, cut: .beat, encoding: .performancePrograms)
        XCTAssertEqual(beat.cutSeconds, 1.0)
        XCTAssertEqual(MusicGeneration.seconds(of: beat.tokens), 1.0, accuracy: 1e-9)
        XCTAssertEqual(MusicEncoding.performancePrograms.decode(beat.tokens).count, 4)
        let exact = try MusicPrime(midi: url, maxSeconds: 1.3, cut: .exact, encoding: .performancePrograms)
        XCTAssertEqual(MusicGeneration.seconds(of: exact.tokens), 1.3, accuracy: 1e-9)
        XCTAssertEqual(MusicEncoding.performancePrograms.decode(exact.tokens).count, 6)
        // A file whose notes end before the beat (1 s of notes, cut asked at 8 s) is not padded with silence.
        let short = try MusicPrime(midi: Self.folder.appendingPathComponent("sixteen_channels.mid"), maxSeconds: 8, cut: .beat,
                                   encoding: .performancePrograms)
        XCTAssertEqual(MusicGeneration.seconds(of: short.tokens), 1.0, accuracy: 1e-9)
        // Exact cuts tokenise as before the option existed.
        XCTAssertEqual(try MusicPrime(midi: url, maxSeconds: 1.3).tokens,
                       try MusicPrime(midi: url, maxSeconds: 1.3, cut: .exact, encoding: .performance).tokens)
    }

    /// A model biased to note-ons and long time shifts holds notes for seconds; with the processor none lasts longer
    /// than the limit, in either encoding.
    func testNoteReleaseBoundsEveryNote() throws {
        for encoding in MusicEncoding.allCases {
            let m = TransformerModel(config: TransformerConfig(vocabSize: encoding.vocabularySize, contextLength: 32, dModel: 8,
                                                               nHeads: 2, nLayers: 1, dFF: 16))
            m.initialize(seed: 2)
            for t in [60, 64, 67, 355] { m.parameters.value("head.bias")[t] = 5 }
            func longest(_ release: NoteRelease?) throws -> Double {
                let release: [any MusicDecodingProcessor] = release.map { [$0] } ?? []
                var s = try Sampler(temperature: 1, seed: 3)
                let r = MusicGeneration.continuation(m, prime: [PerformanceTokenizer.bos], length: .seconds(30), sampler: &s, processors: release)
                let notes = encoding.decode([PerformanceTokenizer.bos] + r.tokens)
                XCTAssertGreaterThan(notes.count, 10)
                return notes.map(\.duration).max() ?? 0
            }
            XCTAssertGreaterThan(try longest(nil), 3, "\(encoding)")
            XCTAssertLessThanOrEqual(try longest(NoteRelease(maxSeconds: 1.5, encoding: encoding)), 1.5 + 1e-9, "\(encoding)")
            // A polyphony limit: never more than 2 notes at once, and time still runs to the 30 s asked for (the
            // model, kept from note-ons, may not loop on note-offs of silent pitches).
            let m2 = TransformerModel(config: m.config)
            m2.parameters.values.update(from: m.parameters.values, count: m.parameters.count)
            for t in PerformanceTokenizer.noteOffBase..<PerformanceTokenizer.timeShiftBase { m2.parameters.value("head.bias")[t] = 4 }
            var s = try Sampler(temperature: 1, seed: 5)
            let r = MusicGeneration.continuation(m2, prime: [PerformanceTokenizer.bos], length: .seconds(30), sampler: &s,
                                                 processors: [NoteRelease(maxSeconds: .infinity, maxPolyphony: 2, encoding: encoding)])
            XCTAssertGreaterThanOrEqual(MusicGeneration.seconds(of: r.tokens), 30, "\(encoding)")
            let notes = encoding.decode([PerformanceTokenizer.bos] + r.tokens)
            XCTAssertGreaterThanOrEqual(notes.count, 3)
            XCTAssertLessThanOrEqual(NoteRelease.maxPolyphony(notes), 2, "\(encoding)")
        }
    }

    /// The key-bias NLL with no bias is the model's own, and a bias changes it (teacher-forced logits, log-softmax).
    func testKeyBiasScoring() throws {
        let m = TransformerModel(config: TransformerConfig(vocabSize: 390, contextLength: 16, dModel: 8, nHeads: 2, nLayers: 1, dFF: 16))
        m.initialize(seed: 4)
        let notes = try MIDIFile.read(url: Self.folder.appendingPathComponent("../bwv10.7.mid").standardized).notes()
        let seqs = [MusicEncoding.performance.encode(notes: Array(notes.prefix(40)))]
        let plain = m.evaluate(seqs, context: 16)
        let zero = ScaleBias.evaluate(m, sequences: seqs, encoding: .performance, penalty: 0, context: 16)
        XCTAssertEqual(zero.tokens, plain.tokens)
        XCTAssertEqual(zero.nats, plain.nats, accuracy: 1e-4)
        XCTAssertNotEqual(ScaleBias.evaluate(m, sequences: seqs, encoding: .performance, penalty: 3, context: 16).nats, plain.nats, accuracy: 1e-3)
        XCTAssertNotEqual(ScaleBias.evaluate(m, sequences: seqs, encoding: .performance, penalty: 0, profileWeight: 2, context: 16).nats,
                          plain.nats, accuracy: 1e-3)
    }

    /// The key profile bias in G major (tonic 7), weight 2, beside a scale penalty of 0.5: the scale's classes lose
    /// 2 ln(P(tonic) / P(degree)) (Krumhansl-Kessler major: tonic 6.35, dominant 5.19, leading tone 2.88), the other
    /// five the scale's mean of that plus 0.5; note-on logits change by exactly that, other tokens not at all.
    func testKeyProfileBiasPenalties() {
        let bias = ScaleBias(key: MusicalKey(tonic: 7, minor: false), penalty: 0.5, profileWeight: 2, encoding: .performance)
        let p = MusicalKey.majorProfile, w: Float = 2
        let degrees = [0, 2, 4, 5, 7, 9, 11]
        let mean = degrees.map { w * Float(log(p[0] / p[$0])) }.reduce(0, +) / 7
        XCTAssertEqual(bias.pitchClassPenalty[7], 0, accuracy: 1e-6, "the tonic G")
        XCTAssertEqual(bias.pitchClassPenalty[2], w * Float(log(6.35 / 5.19)), accuracy: 1e-5, "the dominant D")
        XCTAssertEqual(bias.pitchClassPenalty[6], w * Float(log(6.35 / 2.88)), accuracy: 1e-5, "the leading tone F#")
        for pc in [8, 10, 1, 3, 5] { XCTAssertEqual(bias.pitchClassPenalty[pc], 0.5 + mean, accuracy: 1e-5, "outside: \(pc)") }
        var logits = [Float](repeating: 1, count: 390)
        logits.withUnsafeMutableBufferPointer { bias.process($0) }
        for pitch in 0..<128 {
            XCTAssertEqual(logits[PerformanceTokenizer.noteOnBase + pitch], 1 - bias.pitchClassPenalty[pitch % 12], accuracy: 1e-6)
        }
        XCTAssertEqual(logits.enumerated().filter { !(PerformanceTokenizer.noteOnBase..<(PerformanceTokenizer.noteOnBase + 128)).contains($0.offset) }
                        .map(\.element), [Float](repeating: 1, count: 390 - 128))
        // Without the profile weight, only the scale penalty: the processor of --key-bias alone.
        let fence = ScaleBias(key: MusicalKey(tonic: 7, minor: false), penalty: 0.5, encoding: .performance)
        XCTAssertEqual(fence.pitchClassPenalty, (0..<12).map { degrees.contains(($0 - 7 + 12) % 12) ? 0 : 0.5 })
    }

    /// 120 bpm: sixteenths every 0.125 s. Notes from 1 s on move to the grid; earlier ones stay.
    func testSnapToThePrimeGrid() {
        let map = TempoMap(ticksPerQuarter: 480)
        XCTAssertEqual(map.snapped(0.13), 0.125, accuracy: 1e-12)
        XCTAssertEqual(map.snapped(0.19), 0.25, accuracy: 1e-12)
        let notes = [Note(pitch: 60, velocity: 80, start: 0.51, end: 0.7), Note(pitch: 62, velocity: 80, start: 1.13, end: 1.49),
                     Note(pitch: 64, velocity: 80, start: 1.6, end: 1.61)]
        let s = notes.snapped(to: map, from: 1.0)
        XCTAssertEqual(s[0], notes[0])
        XCTAssertEqual(s[1].start, 1.125, accuracy: 1e-12)
        XCTAssertEqual(s[1].end, 1.485, accuracy: 1e-9)  // 1.5 would lengthen it: keeps its 0.36 s
        XCTAssertEqual(s[2].start, 1.625, accuracy: 1e-12)
        XCTAssertEqual(s[2].end, 1.635, accuracy: 1e-9)  // would have lost its length: keeps its 10 ms
    }

    /// Three quick notes one after another within a sixteenth (120 bpm: 0.125 s), over a held note: snapped, all three
    /// start at 1.0 s and four notes sound at once where the model played two. With a limit of 2, the first snaps and
    /// the others keep their own timing.
    func testSnapKeepsThePolyphonyLimit() {
        let map = TempoMap(ticksPerQuarter: 480)
        let notes = [Note(pitch: 55, velocity: 80, start: 1.0, end: 1.5), Note(pitch: 62, velocity: 80, start: 1.01, end: 1.025),
                     Note(pitch: 64, velocity: 80, start: 1.03, end: 1.045), Note(pitch: 65, velocity: 80, start: 1.05, end: 1.06)]
        XCTAssertEqual(NoteRelease.maxPolyphony(notes), 2)
        let free = notes.snapped(to: map, from: 1.0)
        XCTAssertEqual(free.map(\.start), [1.0, 1.0, 1.0, 1.0])
        XCTAssertEqual(NoteRelease.maxPolyphony(free), 4)
        let limited = notes.snapped(to: map, from: 1.0, maxPolyphony: 2)
        XCTAssertEqual(limited[1].start, 1.0, accuracy: 1e-12)
        XCTAssertEqual(limited[1].end, 1.015, accuracy: 1e-9)
        XCTAssertEqual(Array(limited[2...]), Array(notes[2...]))
        XCTAssertEqual(NoteRelease.maxPolyphony(limited), 2)
        XCTAssertEqual(notes.snapped(to: map, from: 1.0, maxPolyphony: 4).map(\.start), free.map(\.start))
        // A note moved later keeps its length and would overlap the next (which snaps earlier onto it): with the limit it
        // is released no later than before, and the next keeps its own timing.
        let legato = [Note(pitch: 55, velocity: 80, start: 1.0, end: 1.5), Note(pitch: 62, velocity: 80, start: 1.07, end: 1.17),
                      Note(pitch: 64, velocity: 80, start: 1.18, end: 1.24)]
        XCTAssertEqual(NoteRelease.maxPolyphony(legato), 2)
        XCTAssertEqual(NoteRelease.maxPolyphony(legato.snapped(to: map, from: 1.0)), 3)
        let kept = legato.snapped(to: map, from: 1.0, maxPolyphony: 2)
        XCTAssertEqual(kept[1].start, 1.125, accuracy: 1e-12)
        XCTAssertEqual(kept[1].end, 1.17, accuracy: 1e-12)
        XCTAssertEqual(kept[2], legato[2])
        XCTAssertEqual(NoteRelease.maxPolyphony(kept), 2)
    }

    func testFolderEncoding() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("enc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let m = TransformerModel(config: TransformerConfig(vocabSize: 519, contextLength: 8, dModel: 4, nHeads: 1, nLayers: 1, dFF: 4))
        try ModelFolder.write(to: dir, configJSON: try MusicEncoding.performancePrograms.configJSON(m.config, modelType: "transformer"),
                              parameters: m.parameters)
        XCTAssertEqual(try MusicEncoding.of(folder: dir), .performancePrograms)
        let text = try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)
        XCTAssertTrue(text.contains("\"encoding\" : \"performance_programs\""), text)
        // The performance encoding writes no key: such folders read as before.
        XCTAssertFalse(String(decoding: try MusicEncoding.performance.configJSON(m.config, modelType: "transformer"), as: UTF8.self).contains("encoding"))
        XCTAssertThrowsError(try MusicEncoding.performance.check(vocabularySize: 519, file: "c.json")) {
            XCTAssertEqual("\($0)", "c.json: the encoding \"performance\" has 390 tokens but the model's vocab_size is 519")
        }
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../voices/music").standardized
        XCTAssertEqual(try MusicEncoding.of(folder: shipped), .performance)
    }
}
