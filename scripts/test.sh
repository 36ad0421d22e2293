#!/usr/bin/env bash
# `make test`: builds the package and its tests (debug), runs the XCTest suite, on x86-64 runs the library tests
# again on an emulated CPU without AVX (scripts/test-baseline-cpu.sh), and ends with one plain summary line
# "N passed, N failed, N skipped" taken from XCTest's own count. The data-parallel tests (ClusterTests,
# MPITrainCLITests) start `mpirun -np 2 --oversubscribe` themselves when mpirun is installed and are skipped otherwise;
# MPIWorkerTests are what they run on each rank, so the plain run leaves them out.
set -uo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests || exit $?
mkdir -p .build
if command -v mpirun >/dev/null 2>&1; then
    echo "MPI: $(command -v mpirun) found: the 2-rank data-parallel tests run under mpirun -np 2 --oversubscribe"
else
    echo "MPI: mpirun not found: the 2-rank data-parallel tests are skipped (scripts/install-deps.sh installs openmpi-bin)"
fi
swift test --skip-build --disable-swift-testing --skip MPIWorkerTests 2>&1 | tee .build/test.log
status=${PIPESTATUS[0]}
summary=$(grep -E "Executed [0-9]+ tests?, with" .build/test.log | tail -1)
total=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<< "$summary")
failed=$(sed -E 's/.* ([0-9]+) failures?.*/\1/' <<< "$summary")
skipped=0
if grep -q "skipped" <<< "$summary"; then skipped=$(sed -E 's/.*with ([0-9]+) tests? skipped.*/\1/' <<< "$summary"); fi
if [ -z "$summary" ]; then echo "no XCTest summary found" >&2; exit 1; fi
bash scripts/test-baseline-cpu.sh || status=1
echo "$((total - failed - skipped)) passed, $failed failed, $skipped skipped"
exit "$status"
