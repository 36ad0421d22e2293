// Inputs and outputs the way the shell expects them: `-` for stdin/stdout, formats by extension, --json on stdout.
import ArgumentParser
import Audio
import Foundation

/// `-o`'s format options, shared by every command that writes audio.
struct AudioFormatOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Audio format of the output instead of the one its extension names: wav, flac, ogg (Vorbis), mp3 or aiff (default: by extension; WAV for -o - and paths without one).", valueName: "FORMAT"))
    var format: String?

    @Option(help: ArgumentHelp("Sample encoding: pcm16, pcm24 or float for WAV and AIFF, pcm16 or pcm24 for FLAC (default: pcm16).", valueName: "SUBTYPE"))
    var subtype: String?

    /// The format of the output at `path`. - Throws: `ValidationError` with `AudioFormatError`'s one line.
    func resolve(_ path: String, option: String = "-o") throws -> AudioFileFormat {
        do { return try AudioFileFormat.resolve(path: path, format: format, subtype: subtype) } catch {
            throw ValidationError("\(option): \(error)")
        }
    }
}

/// `--json`: the command's result as one JSON object on stdout instead of text.
struct JSONOption: ParsableArguments {
    @Flag(help: "Print the result as one JSON object on stdout (progress and notes stay on stderr).")
    var json = false
}

/// Prints one JSON object (sorted keys) on stdout.
func printJSON(_ object: [String: Any]) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}

/// A finite number for JSON (NaN and infinity become null).
func jsonNumber(_ x: Double) -> Any { x.isFinite ? x : NSNull() }

/// The URL an output option names: `-` is standard output.
func outputURL(_ path: String) -> URL {
    path == "-" ? URL(fileURLWithPath: "/dev/stdout") : URL(fileURLWithPath: path)
}

/// True when `path` names standard output (`-`, `/dev/stdout`, ...).
func isStandardOutput(_ path: String) -> Bool {
    path == "-" || (try? OutputDestination.of(URL(fileURLWithPath: path))) == .standardOutput
}

/// The file to read for an input argument: `-` is standard input; stdin, pipes and devices are copied to a temporary
/// file first (libsndfile cannot read every format from a pipe). Keep the result alive while reading.
/// - Throws: `RuntimeError` (exit 1) when standard input is a terminal or the copy fails.
func openInput(_ path: String) throws -> SpooledInput {
    let url = path == "-" ? URL(fileURLWithPath: "/dev/stdin") : URL(fileURLWithPath: path)
    do { return try SpooledInput(url) } catch { throw RuntimeError(describe(error, input: path)) }
}

/// An error's one line with a spooled copy's temporary path replaced by what the user named (`-` for stdin).
func describe(_ error: Error, input: String, spooled: SpooledInput? = nil) -> String {
    var text = "\(error)"
    if let s = spooled, s.isCopy { text = text.replacingOccurrences(of: s.url.path, with: input == "-" ? "- (standard input)" : input) }
    return text.replacingOccurrences(of: "/dev/stdin", with: "- (standard input)")
}

/// Fails before any work if an output cannot be written: for a file, its folder must exist and let us create a file
/// (probed by creating and removing one) and the path must not be a folder; a device, pipe or standard output must
/// be writable. So a long run never ends in "cannot write". - Throws: `ValidationError` naming the path or folder.
func checkOutputPath(_ path: String, option: String) throws {
    if isStandardOutput(path) {
        // Binary output on a terminal is never what anyone wants.
        if isatty(1) != 0 { throw ValidationError("\(option) \(path): standard output is a terminal; redirect it to a file or pipe it into a program") }
        return
    }
    let fm = FileManager.default
    let destination: OutputDestination
    do { destination = try OutputDestination.of(URL(fileURLWithPath: path)) } catch {
        throw ValidationError("\(option): \(path) is a folder; give a file name")
    }
    switch destination {
    case .standardOutput:
        return
    case .direct(let url):
        guard access(url.path, W_OK) == 0 else { throw ValidationError("\(option): cannot write to \(path)") }
    case .atomic(let target):
        let dir = target.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ValidationError("\(option): output folder \(URL(fileURLWithPath: path).deletingLastPathComponent().path) does not exist")
        }
        let probe = URL(fileURLWithPath: dir).appendingPathComponent(".synth-write-test-\(UUID().uuidString)").path
        guard fm.createFile(atPath: probe, contents: nil) else {
            throw ValidationError("\(option): cannot create files in output folder \(dir)")
        }
        try? fm.removeItem(atPath: probe)
    }
}
