// swift-tools-version:6.0
// libFuzzer targets for synth's readers of untrusted files (`make fuzz`; docs/fuzzing.md). A package of its own so
// that the normal build and tests never see the fuzzer's `main`: it depends on the synth package one folder up.
//
// Build (what `make fuzz` runs; the sanitizers as one combined flag, see ../shared/docs/PLATFORM.md):
//   swift build -c release --scratch-path ../.build-fuzz --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address
import PackageDescription

/// One libFuzzer target: a single file defining `LLVMFuzzerTestOneInput` (no top-level code).
func fuzzTarget(_ name: String, _ products: [String]) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: "synth") })
}

let package = Package(
    name: "synth-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "synth", path: ".."),
    ],
    targets: [
        .target(name: "FuzzSupport"),
        fuzzTarget("FuzzNPY", ["Audio"]),
        fuzzTarget("FuzzSafeTensors", ["NNCore"]),
        fuzzTarget("FuzzModelFolder", ["NNCore", "AREngine", "DSP", "WaveNet", "Music"]),
        fuzzTarget("FuzzMIDI", ["MIDI", "Music"]),
        fuzzTarget("FuzzAudio", ["Audio", "DSP"]),
        fuzzTarget("FuzzTable", ["Tabular", "WaveNet", "Music"]),
        fuzzTarget("FuzzImageCSV", ["NNCore", "AREngine", "Image"]),
    ],
    swiftLanguageModes: [.v5]
)
