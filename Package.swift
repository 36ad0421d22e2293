// swift-tools-version:6.0
// synth: autoregressive audio and music synthesis (WaveNet vocoder, AR engine, MIDI music model).
import PackageDescription

// Release builds keep Swift's overflow and bounds checks (-O, not -Ounchecked) in every module: each one either
// parses input (audio, .npy, safetensors, config.json, MIDI, manifests) or runs on sizes read from those files.
// The hot loops are C kernels (CKernels, -O3) and BLAS; docs/benchmarks.md measures what the checks cost.
let optimize: [SwiftSetting] = [
    .unsafeFlags(["-O", "-wmo"], .when(configuration: .release)),
]

// Our C kernels are plain C written for the compiler to vectorise. On x86-64 Linux each kernel is built for AVX2 +
// FMA and for the baseline, and the CPU picks at load time (`SYNTH_DISPATCH` in Sources/CKernels/kernels.c).
let kernelFlags = ["-O3", "-fno-math-errno"]

let package = Package(
    name: "synth",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "synth", targets: ["synth"]),
        .library(name: "NNCore", targets: ["NNCore"]),
        .library(name: "WaveNet", targets: ["WaveNet"]),
        .library(name: "MIDI", targets: ["MIDI"]),
        // For the fuzz targets in Fuzz/ (a package of its own that depends on this one by path).
        .library(name: "Audio", targets: ["Audio"]),
        .library(name: "DSP", targets: ["DSP"]),
        .library(name: "Tabular", targets: ["Tabular"]),
        .library(name: "Music", targets: ["Music"]),
        .library(name: "AREngine", targets: ["AREngine"]),
        .library(name: "Image", targets: ["Image"]),
        .library(name: "Text", targets: ["Text"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C libraries, linked through pkg-config (Debian: the matching -dev packages).
        .systemLibrary(name: "CSndFile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CSampleRate", pkgConfig: "samplerate", providers: [.apt(["libsamplerate0-dev"])]),
        .systemLibrary(name: "CFluidSynth", pkgConfig: "fluidsynth", providers: [.apt(["libfluidsynth-dev"])]),
        // Pictures (synth plot): cairo draws and writes PNG.
        .systemLibrary(name: "CCairo", pkgConfig: "cairo", providers: [.apt(["libcairo2-dev"])]),
        // Open MPI for data-parallel training (`mpirun -np N synth train`); docs/scale-out.md.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),

        // Library modules. Dependencies run one way: CLI -> models -> engine -> NN core.
        .target(name: "AtomicIO", swiftSettings: optimize),
        .target(name: "Tabular", dependencies: ["AtomicIO"], swiftSettings: optimize),
        .target(name: "Audio", dependencies: ["AtomicIO", "CSndFile", "CSampleRate"], swiftSettings: optimize),
        .target(name: "DSP", dependencies: ["CFFTW"], swiftSettings: optimize),
        // Our own vectorised kernels (gates, softmax, small vector-matrix products); see kernelFlags above.
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(kernelFlags)]
        ),
        .target(name: "NNCore", dependencies: ["AtomicIO", "COpenBLAS", "CKernels"], swiftSettings: optimize),
        .target(name: "AREngine", dependencies: ["NNCore", "AtomicIO"], swiftSettings: optimize),
        // The engine's Communicator over MPI: what the CLI hands the Trainer when mpirun or srun started it.
        .target(name: "Cluster", dependencies: ["AREngine", "CMPI"], swiftSettings: optimize),
        .target(name: "WaveNet", dependencies: ["NNCore", "AREngine", "DSP", "Audio", "Tabular"], swiftSettings: optimize),
        .target(name: "MIDI", dependencies: ["AtomicIO"], swiftSettings: optimize),
        .target(name: "Music", dependencies: ["NNCore", "AREngine", "MIDI", "Audio", "Tabular", "CFluidSynth"], swiftSettings: optimize),
        .target(name: "Image", dependencies: ["NNCore", "AREngine", "Tabular", "AtomicIO"], swiftSettings: optimize),
        .target(name: "Forecast", dependencies: ["NNCore", "AREngine", "DSP", "Tabular", "AtomicIO"], swiftSettings: optimize),
        .target(name: "Text", dependencies: ["NNCore", "AREngine", "AtomicIO", "CKernels"], swiftSettings: optimize),
        // Spectrogram and training-curve pictures drawn with cairo (axes, colour maps, PNG); knows nothing of models.
        .target(name: "Plot", dependencies: ["AtomicIO", "CCairo"]),
        .executableTarget(
            name: "synth",
            dependencies: [
                "AtomicIO", "Audio", "DSP", "NNCore", "AREngine", "Cluster", "WaveNet", "MIDI", "Music", "Text", "Image", "Forecast", "Plot",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimize
        ),

        .testTarget(name: "TabularTests", dependencies: ["Tabular"]),
        .testTarget(name: "AudioTests", dependencies: ["Audio"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DSPTests", dependencies: ["DSP", "Audio"], resources: [.copy("Fixtures")]),
        // Gradient and cached-generation checks shared by the test targets below; built only with the tests.
        .target(name: "TestSupport", dependencies: ["NNCore", "AREngine"], path: "Tests/TestSupport"),
        .testTarget(name: "NNCoreTests", dependencies: ["NNCore", "AREngine", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "AREngineTests", dependencies: ["AREngine", "NNCore"]),
        .testTarget(name: "WaveNetTests", dependencies: ["WaveNet", "NNCore", "AREngine", "DSP", "Audio", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MIDITests", dependencies: ["MIDI", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MusicTests", dependencies: ["Music", "MIDI", "AREngine", "NNCore", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ImageTests", dependencies: ["Image", "NNCore", "AREngine", "Tabular", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ForecastTests", dependencies: ["Forecast", "DSP", "AREngine", "NNCore", "TestSupport"]),
        .testTarget(name: "TextTests", dependencies: ["Text", "AREngine", "NNCore", "TestSupport"]),
        .testTarget(name: "PlotTests", dependencies: ["Plot"]),
        // Data-parallel exactness: the test relaunches its own bundle under `mpirun -np 2` (skipped without mpirun).
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "AREngine", "NNCore", "WaveNet", "Music", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Audio", "NNCore", "DSP", "WaveNet", "MIDI"], resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)
