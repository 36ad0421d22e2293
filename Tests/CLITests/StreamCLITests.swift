// End-to-end: standard input and output, devices, pipes and symlinks as outputs, formats by extension, and flat memory.
import Audio
import Foundation
import XCTest

final class StreamCLITests: XCTestCase {
    var dir: URL!
    var voice: URL!
    let input = CLI.fixture("speech/alpha_30cf3d7d.flac")

    override func setUpWithError() throws {
        dir = try temporaryFolder("streams")
        voice = try writeTinyVoice(in: dir)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// `-o -` writes the WAV to stdout, byte for byte what `-o file.wav` writes, with progress on stderr only; `-` as
    /// input reads a FLAC from stdin (which libsndfile cannot read from a pipe: it is spooled).
    func testStandardInputAndOutput() throws {
        let file = dir.appendingPathComponent("file.wav")
        XCTAssertEqual(try CLI.run(["vocode", input.path, "-o", file.path, "--voice", voice.path, "--speaker", "bob", "--seed", "3"]).status, 0)
        let out = try CLI.runBinary(["vocode", input.path, "-o", "-", "--voice", voice.path, "--speaker", "bob", "--seed", "3"])
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertEqual(out.stdout, try Data(contentsOf: file))
        XCTAssertTrue(out.stderr.contains("vocoding 100.0%"), out.stderr)
        XCTAssertTrue(out.stderr.contains("wrote - (standard output) (16-bit PCM WAV, speaker bob)"), out.stderr)
        // FLAC through a pipe in, WAV through a pipe out.
        let piped = try CLI.runBinary(["vocode", "-", "-o", "-", "--voice", voice.path, "--speaker", "bob", "--seed", "3"],
                                      stdin: try Data(contentsOf: input))
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertEqual(piped.stdout, try Data(contentsOf: file))
        // A broken input on stdin is named as standard input, not as the temporary copy.
        let bad = try CLI.runBinary(["vocode", "-", "-o", dir.appendingPathComponent("x.wav").path, "--voice", voice.path],
                                    stdin: Data(repeating: 7, count: 3000))
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("- (standard input): cannot read audio file"), bad.stderr)
        XCTAssertFalse(bad.stderr.contains("synth-input-"), bad.stderr)
        // .npy features to stdout and back in through stdin.
        let npy = try CLI.runBinary(["features", input.path, "-o", "-", "--voice", voice.path])
        XCTAssertEqual(npy.status, 0, npy.stderr)
        XCTAssertEqual(Array(npy.stdout.prefix(6)), [0x93] + Array("NUMPY".utf8))
        let fromNPY = try CLI.runBinary(["vocode", "-", "-o", "-", "--voice", voice.path, "--speaker", "bob"], stdin: npy.stdout)
        XCTAssertEqual(fromNPY.status, 0, fromNPY.stderr)
        XCTAssertGreaterThan(fromNPY.stdout.count, 44)
        // Audio on a terminal is refused (script(1) gives the run a terminal as stdout).
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/script") {
            let tty = try CLI.shell("script -qec '\"$SYNTH\" vocode \(input.path) -o - --voice \(voice.path)' /dev/null")
            XCTAssertEqual(tty.status, 64, tty.stdout + tty.stderr)
            XCTAssertTrue(tty.stdout.contains("-o -: standard output is a terminal; redirect it to a file or pipe it into a program"), tty.stdout)
        }
        // --json would share stdout with the audio: refused.
        let both = try CLI.run(["vocode", input.path, "-o", "-", "--json", "--voice", voice.path])
        XCTAssertEqual(both.status, 64)
        XCTAssertTrue(both.stderr.contains("--json and -o - both write to standard output"), both.stderr)
    }

    /// What the issue asks: `synth vocode samples/arctic_a0009.wav -o - | <reader of WAV on stdin>` works; sox when it is
    /// installed, else Python's soundfile.
    func testPipelineIntoSoxOrSoundfile() throws {
        let sample = CLI.repoRoot.appendingPathComponent("samples/arctic_a0009.wav").path
        let reader: String
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/sox") {
            reader = "sox -t wav - -n stat 2>&1 | grep -E 'Samples read|Length'"
        } else if try CLI.shell("python3 -c 'import soundfile'").status == 0 {
            reader = "python3 -c 'import sys, io, soundfile as sf; x, r = sf.read(io.BytesIO(sys.stdin.buffer.read())); print(\"Samples read:\", len(x)); print(\"Length (seconds):\", len(x) / r)'"
        } else {
            throw XCTSkip("neither sox nor python3 with soundfile is installed")
        }
        let r = try CLI.shell("\"$SYNTH\" vocode \(sample) -o - --voice \(voice.path) --speaker alice | \(reader)")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("49520"), r.stdout + r.stderr)  // 3.095 s at 16 kHz
        XCTAssertTrue(r.stdout.contains("3.09"), r.stdout)
    }

    /// Devices, pipes and symlinks to them are written in place; a symlink to a regular file keeps the link and its
    /// target is replaced atomically; nothing else appears in the folder.
    func testDevicesPipesAndSymlinksAreWrittenInPlace() throws {
        let args = ["--voice", voice.path, "--speaker", "alice", "--seed", "2"]
        let reference = dir.appendingPathComponent("ref.wav")
        XCTAssertEqual(try CLI.run(["vocode", input.path, "-o", reference.path] + args).status, 0)
        let expected = try Data(contentsOf: reference)
        XCTAssertEqual(try CLI.run(["vocode", input.path, "-o", "/dev/null"] + args).status, 0)
        let nullLink = dir.appendingPathComponent("null.wav")
        try FileManager.default.createSymbolicLink(atPath: nullLink.path, withDestinationPath: "/dev/null")
        let n = try CLI.run(["vocode", input.path, "-o", nullLink.path] + args)
        XCTAssertEqual(n.status, 0, n.stderr)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: nullLink.path), "/dev/null")
        // A FIFO, and a symlink to it: read by another process while synth writes.
        let fifo = dir.appendingPathComponent("fifo.wav"), fifoLink = dir.appendingPathComponent("fifo-link.wav")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        try FileManager.default.createSymbolicLink(atPath: fifoLink.path, withDestinationPath: fifo.path)
        for target in [fifo, fifoLink] {
            let copy = dir.appendingPathComponent("copy.wav")
            let reader = try CLI.shell("cat \(fifo.path) > \(copy.path) & \"$SYNTH\" vocode \(input.path) -o \(target.path) \(args.joined(separator: " ")); wait")
            XCTAssertEqual(reader.status, 0, reader.stderr)
            XCTAssertEqual(try Data(contentsOf: copy), expected, target.lastPathComponent)
            try FileManager.default.removeItem(at: copy)
        }
        var st = stat()
        XCTAssertEqual(lstat(fifo.path, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO, "the FIFO must still be a FIFO")
        // A symlink to a regular file: the link stays, the target gets the new content.
        let target = dir.appendingPathComponent("target.wav"), link = dir.appendingPathComponent("link.wav")
        try Data("old".utf8).write(to: target)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: target.path)
        XCTAssertEqual(try CLI.run(["vocode", input.path, "-o", link.path] + args).status, 0)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link.path), target.path)
        XCTAssertEqual(try Data(contentsOf: target), expected)
        XCTAssertEqual(listing(dir).filter { $0.hasPrefix(".") }, [], "temporary files left behind")
    }

    /// As root, `-o /dev/stdout` used to replace the system's /dev/stdout link with a regular file. It must write
    /// through the link (here into a pipe) and leave /dev/stdout a symlink.
    func testDevStdoutIsNeverReplacedEvenAsRoot() throws {
        guard getuid() == 0 else {
            throw XCTSkip("needs root: as another user /dev cannot be written, so the data-loss bug cannot happen; run the tests as root to check it")
        }
        var before = stat()
        XCTAssertEqual(lstat("/dev/stdout", &before), 0)
        XCTAssertEqual(before.st_mode & S_IFMT, S_IFLNK, "this machine's /dev/stdout is not a symlink to start with")
        let file = dir.appendingPathComponent("file.wav")
        XCTAssertEqual(try CLI.run(["vocode", input.path, "-o", file.path, "--voice", voice.path, "--speaker", "bob"]).status, 0)
        let r = try CLI.runBinary(["vocode", input.path, "-o", "/dev/stdout", "--voice", voice.path, "--speaker", "bob"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, try Data(contentsOf: file))
        var after = stat()
        XCTAssertEqual(lstat("/dev/stdout", &after), 0)
        XCTAssertEqual(after.st_mode & S_IFMT, S_IFLNK, "/dev/stdout was replaced")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/dev/stdout"), "/proc/self/fd/1")
        XCTAssertFalse((try FileManager.default.contentsOfDirectory(atPath: "/dev")).contains { $0.hasPrefix(".stdout.tmp-") })
    }

    /// The format follows the extension (FLAC, Ogg, MP3, 24-bit and float WAV); an unknown extension is refused in
    /// one line before any work, even before the voice is looked up.
    func testFormatsByExtension() throws {
        let args = ["--voice", voice.path, "--speaker", "alice"]
        let cases: [(name: String, magic: String, extra: [String])] = [
            ("a.flac", "fLaC", []), ("b.ogg", "OggS", []), ("c.mp3", "", []), ("d.wav", "RIFF", ["--subtype", "pcm24"]),
            ("e.wav", "RIFF", ["--subtype", "float"]), ("f.bin", "fLaC", ["--format", "flac"]),
        ]
        for (name, magic, extra) in cases {
            let out = dir.appendingPathComponent(name)
            let r = try CLI.run(["vocode", input.path, "-o", out.path] + args + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            let data = try Data(contentsOf: out)
            if !magic.isEmpty { XCTAssertEqual(String(decoding: data.prefix(4), as: UTF8.self), magic, name) }
            let back = try AudioIO.read(out)
            XCTAssertEqual(back.sampleRate, 16000, name)
            if name.hasSuffix(".wav") {
                XCTAssertEqual(Int(data[34]) | Int(data[35]) << 8, extra.last == "pcm24" ? 24 : 32, "\(name): bits per sample")
                XCTAssertEqual(back.frameCount, 32136, name)
            }
        }
        let mp3 = try CLI.run(["generate", "-o", dir.appendingPathComponent("g.flac").path, "--seconds", "0.1"] + args)
        XCTAssertEqual(mp3.status, 0, mp3.stderr)
        for (out, needle) in [("x.m4a", "x.m4a has the extension .m4a, which names no format synth writes; use one of .wav"),
                              ("x", "has no extension; use one of .wav")] {
            let path = dir.appendingPathComponent(out).path
            let r = try CLI.run(["vocode", input.path, "-o", path, "--voice", "no-such-voice"])
            XCTAssertEqual(r.status, 64, r.stderr)
            assertFails(r, needle, output: URL(fileURLWithPath: path))
        }
        assertFails(try CLI.run(["vocode", input.path, "-o", dir.appendingPathComponent("y.flac").path, "--subtype", "float"] + args),
                    "--subtype float is not available for flac; flac takes pcm16, pcm24")
        assertFails(try CLI.run(["vocode", input.path, "-o", dir.appendingPathComponent("z.wav").path, "--format", "mp4"] + args),
                    "--format must be one of wav, flac, ogg, mp3, aiff, got 'mp4'")
    }

    /// Peak memory does not grow with the input: 3 s and 30 s of audio through the streamed features and generation
    /// (a tiny voice, so the run is short; the shipped voice's curve is in docs/benchmarks.md).
    func testMemoryStaysFlatAsTheInputGrows() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else { throw XCTSkip("/usr/bin/time is not installed") }
        var rss: [Int] = []
        for seconds in [3, 30] {
            let n = seconds * 16000
            let x: [Float] = (0..<n).map { (i: Int) -> Float in
                let t = Double(i)
                return Float(0.3 * sin(t * 0.07) * (0.6 + 0.4 * sin(t * 0.0003)))
            }
            let wav = dir.appendingPathComponent("in\(seconds).wav")
            try AudioIO.writeWAV(x, sampleRate: 16000, to: wav)
            let r = try CLI.shell("/usr/bin/time -f 'peak %M' \"$SYNTH\" vocode \(wav.path) -o \(dir.appendingPathComponent("o.wav").path) --voice \(voice.path) --speaker alice")
            XCTAssertEqual(r.status, 0, r.stderr)
            let peak = r.stderr.split(separator: "\n").last { $0.hasPrefix("peak ") }.flatMap { Int($0.dropFirst(5)) }
            rss.append(try XCTUnwrap(peak, r.stderr))
        }
        print("peak RSS: 3 s \(rss[0]) KB, 30 s \(rss[1]) KB")
        // Holding the waveform, the output and its 16-bit copy (as before streaming) would add about 4.3 MB here; the
        // features (32 KB per second) add 0.9 MB.
        XCTAssertLessThan(rss[1] - rss[0], 2500, "peak RSS grew from \(rss[0]) KB to \(rss[1]) KB")
    }
}
