// End-to-end tests of `synth render` and `synth features` with tiny random voices: bad lines, identity with
// `synth vocode`, shards, and a real SIGKILL followed by a rerun.
import Audio
import Foundation
import NNCore
import WaveNet
import XCTest

final class RenderCLITests: CLITestCase {
    /// Bad lines are reported with their line numbers, valid lines still render, exit status 1; a rerun skips them.
    func testBadLinesAreReportedAndValidLinesRender() throws {
        let voice = try makeVoice()
        try writeMels("good1.npy", frames: 30, seed: 1)
        try writeMels("good2.npy", frames: 20, seed: 2)
        try writeMels("wrongbins.npy", frames: 20, seed: 3, bins: 5)
        // An int32 array: same header layout with '<i4'.
        var i4 = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        var header = "{'descr': '<i4', 'fortran_order': False, 'shape': (4, 3), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        i4.append(contentsOf: [UInt8(header.count & 0xFF), UInt8(header.count >> 8)])
        i4.append(Data(header.utf8))
        i4.append(Data(count: 4 * 3 * 4))
        try i4.write(to: tmp.appendingPathComponent("ints.npy"))
        let manifest = try write("""
            input,speaker,output
            good1.npy,a,one
            good2.npy,b,
            good2.npy,c,one.wav
            good1.npy,zed,unknown
            ints.npy,a,ints
            wrongbins.npy,a,bins
            missing.npy,a,missing
            only-one-field

            good1.npy,c,last.wav
            """, to: "m.csv")
        let out = tmp.appendingPathComponent("out")
        let r = try run(["render", manifest.path, "--out", out.path, "--voice", voice.path, "--batch", "2", "--threads", "1"])
        XCTAssertEqual(r.status, 1, r.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        XCTAssertEqual(files, ["good2.wav", "last.wav", "one.wav"])
        for (line, text) in [(4, "duplicate output name 'one.wav' (already used on line 2)"),
                             (5, "unknown speaker 'zed'; this voice has: a, b, c"),
                             (6, "expected float32 or float64 ('<f4', '>f4', '<f8', '>f8'), got '<i4'"),
                             (7, "shape [20, 5], expected [frames, 3]"),
                             (8, "missing.npy: audio file not found"),
                             (9, "expected 3 comma-separated fields (input, speaker, output), got 1")] {
            XCTAssertTrue(r.stderr.contains("m.csv:\(line): ") && r.stderr.components(separatedBy: "\n").contains {
                $0.contains("m.csv:\(line): ") && $0.contains(text)
            }, "line \(line) should report '\(text)':\n\(r.stderr)")
        }
        XCTAssertTrue(r.stderr.contains("rendered 3, skipped 0 (already done), failed 6"), r.stderr)
        let again = try run(["render", manifest.path, "--out", out.path, "--voice", voice.path])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("rendered 0, skipped 3 (already done), failed 6"), again.stderr)
    }

    func testMissingColumnNamesTheHeaderLine() throws {
        let voice = try makeVoice()
        let manifest = try write("input\toutput\nx.npy\ty\n", to: "m.tsv")
        let r = try run(["render", manifest.path, "--out", tmp.appendingPathComponent("o").path, "--voice", voice.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("m.tsv:1: missing column 'speaker'"), r.stderr)
    }

    /// A rendered line equals `synth vocode` of the same input with the same speaker and seed, for any batch size.
    func testRenderEqualsVocodeAlone() throws {
        let voice = try makeVoice()
        for i in 0..<5 { try writeMels("u\(i).npy", frames: 10 + 7 * i, seed: UInt64(i)) }
        let manifest = try write("input\tspeaker\tseed\n" + (0..<5).map { "u\($0).npy\t\(["a", "b", "c"][$0 % 3])\t\(40 + $0)" }.joined(separator: "\n"), to: "m.tsv")
        let out4 = tmp.appendingPathComponent("b4"), out1 = tmp.appendingPathComponent("b1")
        XCTAssertEqual(try run(["render", manifest.path, "--out", out4.path, "--voice", voice.path, "--batch", "4", "--threads", "2"]).status, 0)
        XCTAssertEqual(try run(["render", manifest.path, "--out", out1.path, "--voice", voice.path, "--batch", "1", "--threads", "1"]).status, 0)
        XCTAssertEqual(try contents(of: out4), try contents(of: out1))
        let alone = tmp.appendingPathComponent("alone.wav")
        let v = try run(["vocode", tmp.appendingPathComponent("u3.npy").path, "-o", alone.path, "--voice", voice.path,
                         "--speaker", "a", "--seed", "43"])
        XCTAssertEqual(v.status, 0, v.stderr)
        XCTAssertEqual(try Data(contentsOf: alone), try Data(contentsOf: out4.appendingPathComponent("u3.wav")))
        // --speaker overrides the manifest's speaker column.
        let outS = tmp.appendingPathComponent("s")
        XCTAssertEqual(try run(["render", manifest.path, "--out", outS.path, "--voice", voice.path, "--speaker", "a"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: outS.appendingPathComponent("u3.wav")), try Data(contentsOf: alone))
        XCTAssertNotEqual(try Data(contentsOf: outS.appendingPathComponent("u1.wav")), try Data(contentsOf: out4.appendingPathComponent("u1.wav")))
        let bad = try run(["render", manifest.path, "--out", outS.path, "--voice", voice.path, "--speaker", "nobody"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("unknown speaker 'nobody'; this voice has: a, b, c"), bad.stderr)
    }

    /// `--pitch-postfilter` in a render gives each audio line what `synth vocode --pitch-postfilter` gives it alone;
    /// a .npy line, with a voice without pitch conditioning, fails with the one-line reason while the others render.
    func testPitchPostfilterRendersAsVocodeDoes() throws {
        let voice = try makeVoice()
        try writeMels("u.npy", frames: 12, seed: 1)
        let speech = CLI.fixture("speech/alpha_8f6fb8eb.flac").path
        let manifest = try write("input\tspeaker\tseed\n\(speech)\ta\t7\nu.npy\tb\t8", to: "m.tsv")
        let out = tmp.appendingPathComponent("pf")
        let r = try run(["render", manifest.path, "--out", out.path, "--voice", voice.path, "--pitch-postfilter", "0.5", "--batch", "2"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("m.tsv:3: --pitch-postfilter with voice"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("u.wav").path))
        let alone = tmp.appendingPathComponent("alone.wav"), plain = tmp.appendingPathComponent("plain.wav")
        XCTAssertEqual(try run(["vocode", speech, "-o", alone.path, "--voice", voice.path, "--speaker", "a", "--seed", "7",
                                "--pitch-postfilter", "0.5"]).status, 0)
        XCTAssertEqual(try run(["vocode", speech, "-o", plain.path, "--voice", voice.path, "--speaker", "a", "--seed", "7"]).status, 0)
        let rendered = out.appendingPathComponent("alpha_8f6fb8eb.wav")
        XCTAssertEqual(try Data(contentsOf: rendered), try Data(contentsOf: alone))
        XCTAssertNotEqual(try Data(contentsOf: rendered), try Data(contentsOf: plain))

        // The mel-envelope correction (with momentum), with the postfilter, on audio and .npy lines alike: each line as
        // vocode renders it.
        let corrected = tmp.appendingPathComponent("mc")
        let m = try run(["render", manifest.path, "--out", corrected.path, "--voice", voice.path, "--mel-correction", "3",
                         "--mel-correction-momentum", "0.5", "--batch", "2"])
        XCTAssertEqual(m.status, 0, m.stderr)
        for (input, speaker, seed, name) in [(speech, "a", "7", "alpha_8f6fb8eb.wav"), (tmp.appendingPathComponent("u.npy").path, "b", "8", "u.wav")] {
            let one = tmp.appendingPathComponent("one-" + name)
            XCTAssertEqual(try run(["vocode", input, "-o", one.path, "--voice", voice.path, "--speaker", speaker, "--seed", seed,
                                    "--mel-correction", "3", "--mel-correction-momentum", "0.5"]).status, 0)
            XCTAssertEqual(try Data(contentsOf: corrected.appendingPathComponent(name)), try Data(contentsOf: one), name)
        }
        XCTAssertNotEqual(try Data(contentsOf: corrected.appendingPathComponent("alpha_8f6fb8eb.wav")), try Data(contentsOf: plain))
    }

    /// `auto` in the speaker column picks each input's speaker from the shipped voice's speaker statistics (the
    /// held-out klettres-en and klettres-cs clips, and a .npy), rendering what `synth vocode --speaker auto` renders;
    /// with a voice without statistics, audio lines are scored by likelihood first and .npy lines fail.
    func testSpeakerAutoInTheManifest() throws {
        let shipped = CLI.repoRoot.appendingPathComponent("voices/default")
        try writeMels("m.npy", frames: 12, seed: 1, bins: 80)
        let en = CLI.fixture("speech/alpha_30cf3d7d.flac").path, cs = CLI.fixture("speech/alpha_8f6fb8eb.flac").path
        let manifest = try write("input\tspeaker\toutput\tseed\n\(en)\tauto\ten\t5\n\(cs)\tAUTO\tcs\t6\nm.npy\tauto\tm\t7\n", to: "m.tsv")
        let out = tmp.appendingPathComponent("o")
        let r = try run(["render", manifest.path, "--out", out.path, "--voice", shipped.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("speaker auto (speaker statistics): "), r.stderr)
        XCTAssertTrue(r.stderr.contains("klettres-cs 1") && r.stderr.contains("klettres-en 1"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted(), ["cs.wav", "en.wav", "m.wav"])
        let alone = tmp.appendingPathComponent("alone.wav")
        let v = try run(["vocode", en, "-o", alone.path, "--voice", shipped.path, "--speaker", "auto", "--seed", "5"])
        XCTAssertEqual(v.status, 0, v.stderr)
        XCTAssertEqual(try Data(contentsOf: alone), try Data(contentsOf: out.appendingPathComponent("en.wav")))

        let tiny = try makeVoice()
        try writeMels("t.npy", frames: 12, seed: 1)
        let m2 = try write("input\tspeaker\toutput\n\(en)\tauto\ten\n\(cs)\tauto\tcs\nt.npy\tauto\tt\n", to: "m2.tsv")
        let r2 = try run(["render", m2.path, "--out", tmp.appendingPathComponent("o2").path, "--voice", tiny.path])
        XCTAssertEqual(r2.status, 1, r2.stderr)
        XCTAssertTrue(r2.stderr.contains("has no speaker statistics; the `auto` lines are scored by likelihood first"), r2.stderr)
        XCTAssertTrue(r2.stderr.contains("speaker auto: 2 line(s) scored: "), r2.stderr)
        XCTAssertTrue(r2.stderr.contains("m2.tsv:4: speaker auto needs an audio input"), r2.stderr)
    }

    /// Shards (from --shard and from Slurm / Kubernetes variables) partition the manifest; their union is the full run.
    func testShardsPartitionTheManifest() throws {
        let voice = try makeVoice()
        for i in 0..<7 { try writeMels("u\(i).npy", frames: 8 + i, seed: UInt64(i)) }
        let manifest = try write("input,speaker\n" + (0..<7).map { "u\($0).npy,b" }.joined(separator: "\n"), to: "m.csv")
        let full = tmp.appendingPathComponent("full"), sharded = tmp.appendingPathComponent("sharded")
        XCTAssertEqual(try run(["render", manifest.path, "--out", full.path, "--voice", voice.path]).status, 0)
        let args = ["render", manifest.path, "--out", sharded.path, "--voice", voice.path]
        let r0 = try run(args + ["--shard", "0/3"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sharded.path).sorted(), ["u0.wav", "u3.wav", "u6.wav"], r0.stderr)
        let r1 = try run(args, env: ["SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "3"])
        XCTAssertTrue(r1.stderr.contains("shard 1/3: 2 lines"), r1.stderr)
        let r2 = try run(args, env: ["JOB_COMPLETION_INDEX": "2", "SYNTH_SHARDS": "3"])
        XCTAssertTrue(r2.stderr.contains("shard 2/3: 2 lines"), r2.stderr)
        XCTAssertEqual(try contents(of: sharded), try contents(of: full))
        let bad = try run(args + ["--shard", "3/3"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("0-based"), bad.stderr)
    }

    /// Kills a real run with SIGKILL after its first output appears, reruns it, and compares with an
    /// uninterrupted run: same files, same bytes, no temporary files left.
    func testKillAndRerunGivesTheSameFiles() throws {
        let voice = try makeVoice()
        let n = 10
        for i in 0..<n { try writeMels("u\(i).npy", frames: 1500 + 100 * i, seed: UInt64(i)) }
        let manifest = try write("input,speaker\n" + (0..<n).map { "u\($0).npy,\(["a", "b", "c"][$0 % 3])" }.joined(separator: "\n"), to: "m.csv")
        let killed = tmp.appendingPathComponent("killed"), clean = tmp.appendingPathComponent("clean")
        let args = ["render", manifest.path, "--voice", voice.path, "--batch", "2", "--threads", "1"]
        let p = try launch(args + ["--out", killed.path], tag: "killed")
        let deadline = Date().addingTimeInterval(50)
        func wavs() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: killed.path)) ?? []).filter { $0.hasSuffix(".wav") && !$0.hasPrefix(".") }
        }
        while wavs().isEmpty && p.isRunning && Date() < deadline { usleep(2000) }
        let wasRunning = p.isRunning
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let before = wavs().count
        XCTAssertTrue(wasRunning && before < n, "the run finished before it could be killed (\(before) of \(n) outputs); make the inputs longer")
        let rerun = try run(args + ["--out", killed.path])
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("skipped \(before) (already done)"), rerun.stderr)
        XCTAssertEqual(try run(args + ["--out", clean.path]).status, 0)
        let a = try contents(of: killed), b = try contents(of: clean)
        XCTAssertEqual(a.keys.sorted(), (0..<n).map { "u\($0).wav" }.sorted(), "no temporary or partial files may remain")
        XCTAssertTrue(a == b, "outputs after kill + rerun differ from an uninterrupted run")
    }

    /// `synth features` writes the voice's normalised log-mels as float32 [frames, mel_bins]; rendering that
    /// .npy is the same as rendering the audio.
    func testFeaturesRoundTripThroughNpy() throws {
        let voice = try makeVoice()
        var rng = Xoshiro256(seed: 9)
        let wav = tmp.appendingPathComponent("in.wav")
        try AudioIO.writeWAV((0..<400).map { i in 0.3 * sinf(Float(i) * 0.2) + 0.05 * rng.nextGaussian() }, sampleRate: 16000, to: wav)
        let npy = tmp.appendingPathComponent("in.npy")
        let r = try run(["features", wav.path, "-o", npy.path, "--voice", voice.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let a = try NPY.read(npy)
        XCTAssertEqual(a.shape, [400 / 4 + 1, 3])
        let v = try Voice.load(voice)
        let x = try AudioIO.readMono(wav, sampleRate: 16000)
        XCTAssertEqual(a.data, try Vocoder(voice: v).features(of: x).mels)
        let fromWav = tmp.appendingPathComponent("w.wav"), fromNpy = tmp.appendingPathComponent("n.wav")
        XCTAssertEqual(try run(["vocode", wav.path, "-o", fromWav.path, "--voice", voice.path]).status, 0)
        XCTAssertEqual(try run(["vocode", npy.path, "-o", fromNpy.path, "--voice", voice.path]).status, 0)
        // The .npy renders frames * hop samples; audio renders its own length (400 = 100 * 4 here, so one hop less).
        let yw = try AudioIO.read(fromWav).samples, yn = try AudioIO.read(fromNpy).samples
        XCTAssertEqual(yn.count, 404)
        XCTAssertEqual(Array(yn.prefix(400)), yw)
    }
}
