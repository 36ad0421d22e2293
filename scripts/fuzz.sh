#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets of Fuzz/ (with AddressSanitizer) and runs each for FUZZ_SECONDS,
# FUZZ_JOBS at a time, on corpora seeded from the test fixtures; then prints one line per target (seconds,
# executions, corpus, findings). Exit status 1 if any target found a crash, a leak of memory bounds or a hang.
#   FUZZ_SECONDS=600 (per target)  FUZZ_JOBS=2  FUZZ_TARGETS="FuzzNPY FuzzMIDI ..."  (docs/fuzzing.md)
# Corpora, logs and findings stay in .build-fuzz/ (git-ignored) across runs; a finding is kept as
# .build-fuzz/findings/<target>/crash-*, to be turned into a regression fixture under Tests/*/Fixtures/fuzz/.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${FUZZ_SECONDS:-600}
JOBS=${FUZZ_JOBS:-2}
TARGETS=${FUZZ_TARGETS:-"FuzzNPY FuzzSafeTensors FuzzModelFolder FuzzMIDI FuzzAudio FuzzTable FuzzImageCSV"}
OUT=.build-fuzz
BIN=$OUT/release

echo "== building the fuzz targets (swift build -c release --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address)"
# SwiftPM does not notice files added to a path dependency's targets until the depending manifest changes.
touch Fuzz/Package.swift
(cd Fuzz && swift build -c release --scratch-path ../$OUT --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address 2>&1 \
    | grep -v -e "Cannot export local symbol" -e "prohibited flag") || exit 1

# Seeds: test fixtures of each format (small files only), plus every committed regression input of the target.
seed() {  # seed TARGET FILES...
    local dir=$OUT/corpus/$1; shift
    mkdir -p "$dir"
    for f in "$@"; do
        [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 65536 ] && cp "$f" "$dir/seed-$(basename "$(dirname "$f")")-$(basename "$f")"
    done
    return 0
}
shopt -s nullglob
seed FuzzNPY Tests/AudioTests/Fixtures/*.npy Tests/AudioTests/Fixtures/npy/*/*.npy Tests/WaveNetTests/Fixtures/mels_numpy*.npy \
    Tests/AudioTests/Fixtures/fuzz/FuzzNPY/*
seed FuzzSafeTensors Tests/NNCoreTests/Fixtures/fuzz/FuzzSafeTensors/*
seed FuzzModelFolder Tests/WaveNetTests/Fixtures/fuzz/FuzzModelFolder/*
seed FuzzMIDI Tests/MIDITests/Fixtures/*.mid samples/*.mid Tests/MIDITests/Fixtures/fuzz/FuzzMIDI/*
seed FuzzAudio Tests/AudioTests/Fixtures/*.wav Tests/AudioTests/Fixtures/*.flac Tests/AudioTests/Fixtures/*.ogg \
    Tests/CLITests/Fixtures/speech/*.flac Tests/AudioTests/Fixtures/fuzz/FuzzAudio/*
seed FuzzTable Tests/CLITests/Fixtures/speech/MANIFEST.tsv Tests/TabularTests/Fixtures/fuzz/FuzzTable/*
printf 'input,speaker,output,seed\n"a, b.npy",alice,one,7\nc.wav,auto,,\n' > $OUT/corpus/FuzzTable/seed-render.csv
printf 'path\tsplit\tcollection\r\nx.mid\tvalid\tbach\r\n\r\n"y\t.mid"\ttrain\t\n' > $OUT/corpus/FuzzTable/seed-music.tsv
seed FuzzImageCSV Tests/ImageTests/Fixtures/digits_small.*.csv Tests/ImageTests/Fixtures/fuzz/FuzzImageCSV/*
head -n 3 Tests/ImageTests/Fixtures/digits_small.valid.csv > $OUT/corpus/FuzzImageCSV/seed-digits-3-lines.csv
printf 'label,p3,p2,p1,p0\r\n1,0,1,2,0\r\n0,"2",0,0,1\r\n' > $OUT/corpus/FuzzImageCSV/seed-2x2.csv

run() {  # run TARGET: one libFuzzer run of SECONDS_PER_TARGET, its log in $OUT/logs
    local t=$1
    mkdir -p "$OUT/findings/$t" "$OUT/logs"
    local start=$(date +%s)
    SYNTH_FUZZ_SEEDS="$OUT/corpus/$t" SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 \
        "$BIN/$t" "$OUT/corpus/$t" -max_total_time="$SECONDS_PER_TARGET" -use_value_profile=1 -detect_leaks=0 \
        -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 -artifact_prefix="$OUT/findings/$t/" \
        > "$OUT/logs/$t.log" 2>&1
    echo $? > "$OUT/logs/$t.status"
    echo $(( $(date +%s) - start )) > "$OUT/logs/$t.seconds"
}

echo "== running $(wc -w <<< "$TARGETS") targets for ${SECONDS_PER_TARGET} s each, $JOBS at a time (logs: $OUT/logs)"
running=0
for t in $TARGETS; do
    [ -x "$BIN/$t" ] || { echo "no such fuzz target: $t" >&2; exit 1; }
    run "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait

status=0
printf '%-16s %8s %12s %10s %8s  %s\n' target seconds executions exec/s corpus findings
for t in $TARGETS; do
    log=$OUT/logs/$t.log
    runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" | tail -1)
    secs=$(cat "$OUT/logs/$t.seconds")
    rate=$(grep -oE "stat::average_exec_per_sec: *[0-9]+" "$log" | grep -oE "[0-9]+$" | tail -1)
    corpus=$(ls "$OUT/corpus/$t" | wc -l)
    findings=$(ls "$OUT/findings/$t" | wc -l)
    what="none"
    if [ "$findings" -gt 0 ] || [ "$(cat "$OUT/logs/$t.status")" != 0 ]; then
        status=1
        what="$(grep -m1 -E "ERROR: |Fatal error|deadly signal|out-of-memory|timeout" "$log" | cut -c1-100) ($OUT/findings/$t)"
    fi
    printf '%-16s %8s %12s %10s %8s  %s\n' "$t" "${secs:-?}" "${runs:-?}" "${rate:-?}" "$corpus" "$what"
done
exit $status
