// Wall-clock bounds in tests that also run under CPU emulation.
import Foundation

/// A time bound for a "this must not build anything big" check: `seconds` natively, ten times that when
/// `SYNTH_EMULATED_CPU` is set (scripts/test-baseline-cpu.sh runs the library tests under qemu, about ten times
/// slower; on a loaded machine a one-second bound there failed at 1.3 s).
public func timeLimit(_ seconds: TimeInterval) -> TimeInterval {
    ProcessInfo.processInfo.environment["SYNTH_EMULATED_CPU"] == nil ? seconds : 10 * seconds
}
