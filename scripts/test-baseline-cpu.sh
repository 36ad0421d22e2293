#!/usr/bin/env bash
# Part of `make test` on x86-64: runs the library tests (every test but the CLI's and ClusterTests, which start native
# processes: the binary, mpirun)
# under qemu user-mode emulation of a Nehalem CPU (SSE4.2, no AVX), so the baseline versions of the C kernels
# (SYNTH_DISPATCH in Sources/CKernels/kernels.c) are tested too. A kernel or flag that needs AVX2 there fails
# with SIGILL. Installs Debian's qemu-user if it is missing. Needs the debug test build (`swift build --build-tests`).
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(uname -m)" = x86_64 ] || { echo "baseline CPU tests: not x86-64, nothing to do"; exit 0; }
command -v qemu-x86_64 >/dev/null 2>&1 || bash scripts/install-deps.sh qemu-user || exit 1
bundle="$(swift build --show-bin-path)/synthPackageTests.xctest"
[ -x "$bundle" ] || { echo "no test bundle at $bundle; run swift build --build-tests" >&2; exit 1; }
classes=$("$bundle" --list-tests 2>/dev/null | grep -E '^[A-Za-z]+Tests\.[A-Za-z]+/' | grep -vE '^(CLITests|ClusterTests)\.' |
          sed 's|/.*||' | sort -u | paste -sd, -)
[ -n "$classes" ] || { echo "no tests listed by $bundle" >&2; exit 1; }
# Under qemu, OpenBLAS's own CPU detection reads the host's model; pin it to the emulated CPU's kernels.
log=.build/test-baseline.log
total=$("$bundle" --list-tests 2>/dev/null | grep -E '^[A-Za-z]+Tests\.[A-Za-z]+/' | grep -vEc '^(CLITests|ClusterTests)\.')
echo "baseline CPU tests under qemu -cpu Nehalem (no AVX): $total tests, about a minute; progress every 10 s" >&2
# SYNTH_EMULATED_CPU tells timing checks that everything runs about ten times slower here.
SYNTH_EMULATED_CPU=Nehalem OPENBLAS_CORETYPE=Nehalem qemu-x86_64 -cpu Nehalem "$bundle" "$classes" > "$log" 2>&1 &
pid=$!
start=$SECONDS
# Progress with ETA while qemu runs: tests finished so far, from XCTest's own lines in the log.
while kill -0 "$pid" 2>/dev/null; do
    sleep 10
    kill -0 "$pid" 2>/dev/null || break
    done_count=$(grep -cE "^Test Case .*(passed|failed|skipped)" "$log" 2>/dev/null)
    elapsed=$((SECONDS - start))
    eta="?"
    if [ "$done_count" -gt 0 ]; then eta="$(( elapsed * (total - done_count) / done_count ))s"; fi
    echo "baseline CPU tests: $done_count/$total done, ${elapsed}s, ETA $eta" >&2
done
wait "$pid"
status=$?
summary=$(grep -E "Executed [0-9]+ tests?, with" "$log" | tail -1)
if [ "$status" -ne 0 ] || [ -z "$summary" ]; then
    tail -n 12 "$log" >&2
    echo "baseline CPU tests (qemu -cpu Nehalem, no AVX) failed with status $status; log: $log" >&2
    exit 1
fi
echo "baseline CPU tests (qemu -cpu Nehalem, no AVX):$(sed -E 's/.*(Executed [0-9]+ tests?, with [0-9]+ failures?).*/ \1/' <<< "$summary")"
