#!/usr/bin/env bash
# Real fuzzing: builds every fuzz target in tests/fuzz/ with libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer (clang), then runs each for
# SECONDS seconds, starting from its seed corpus.
#
# usage: scripts/fuzz.sh [SECONDS [TARGET...]]     (default: 60 s, all targets)
#   env: BUILD_DIR (default build-fuzz), CORPUS_DIR (default fuzz-corpus),
#        JOBS (targets run at once, default 1), FUZZ_ARGS (extra libFuzzer flags)
#
# New inputs go to CORPUS_DIR/<target>/ (kept between runs, not committed);
# crashes to CORPUS_DIR/artifacts/<target>/. A crash must become a regression
# seed: copy the reproducer into tests/fuzz/seeds/<target>/ (meson test
# --suite fuzz then replays it forever) and fix the bug. Exit code 1 if any
# target crashed. Installs clang and libclang-rt-14-dev (Debian) if missing.
#
# The test suite replays the seeds only (meson test --suite fuzz, with the
# default -Dfuzzing_engine=none); CI (.ci/run) also runs this for a short time
# per target.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
BUILD_DIR=${BUILD_DIR:-build-fuzz}
CORPUS_DIR=${CORPUS_DIR:-fuzz-corpus}
JOBS=${JOBS:-1}

# The library's own packages (and the plain build in ./build: BUILD_DIR here is
# the fuzzing build, which setup.sh must not configure with gcc).
env -u BUILD_DIR scripts/setup.sh
scripts/need.sh clang libclang-rt-14-dev
if [ ! -d "$BUILD_DIR" ]; then
    CC=clang meson setup "$BUILD_DIR" -Dfuzzing_engine=libfuzzer -Db_sanitize=address,undefined \
        -Db_lundef=false -Dbuildtype=debugoptimized
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in tests/fuzz/fuzz_*.c; do
        t=$(basename "$f" .c)
        targets+=("${t#fuzz_}")
    done
fi
ninja -C "$BUILD_DIR" $(printf 'tests/fuzz/fuzz_%s ' "${targets[@]}")

# UBSan findings are bugs: make them crash so libFuzzer keeps the input.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

run_one() {
    local t=$1
    local corpus="$CORPUS_DIR/$t" art="$CORPUS_DIR/artifacts/$t" seeds="tests/fuzz/seeds/$t"
    mkdir -p "$corpus" "$art"
    [ -d "$seeds" ] || seeds=""
    local log="$CORPUS_DIR/$t.log"
    local rc=0
    # -rss_limit_mb: a target must stay far below this on any input (the
    # reader caps what it decompresses per input; see each target's comment).
    "$BUILD_DIR/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$art/" ${FUZZ_ARGS:-} "$corpus" $seeds >"$log" 2>&1 || rc=$?
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    local rss
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    if [ $rc -ne 0 ]; then
        echo "fuzz_$t: CRASH after ${execs:-?} executions (log: $log; reproducer in $art/)"
        grep -m1 -E "ERROR:|SUMMARY:" "$log" || true
        return 1
    fi
    echo "fuzz_$t: ${execs:-?} executions in ${SECONDS_EACH} s, peak RSS ${rss:-?} MB, corpus $(ls "$corpus" | wc -l) files"
}

failed=0
running=0
pids=()
for t in "${targets[@]}"; do
    run_one "$t" &
    pids+=($!)
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait "${pids[0]}" || failed=1
        pids=("${pids[@]:1}")
        running=$((running - 1))
    fi
done
for p in "${pids[@]}"; do
    wait "$p" || failed=1
done
exit $failed
