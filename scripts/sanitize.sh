#!/usr/bin/env bash
# Sanitizer runs.
#
# usage: scripts/sanitize.sh [asan|tsan|valgrind|all]    (default: all)
#   env: BUILD_ASAN (default build-asan), BUILD_TSAN (build-tsan),
#        BUILD_DIR (default build: the plain build valgrind runs)
#
# asan      AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer),
#           meson's own option:
#               meson setup -Db_sanitize=address,undefined -Db_lundef=false build-asan
#           then the whole test suite (unit, cli, fuzz seed replays) under it.
#           UBSan is made fatal, so any finding fails the test that hit it.
#
# tsan      ThreadSanitizer on the threaded scan. OpenMP's runtime matters
#           here: GCC's libgomp is not built with TSan, so its barriers and
#           thread pool are invisible to it and give false reports. So this
#           builds with clang, whose -fopenmp uses LLVM's libomp
#           (libomp-14-dev), and loads Archer (libarcher.so, LLVM's OMPT tool
#           that tells TSan about OpenMP's synchronisation) through
#           OMP_TOOL_LIBRARIES; ignore_noninstrumented_modules=1 as Archer asks.
#           Hyperscan, zstd and ISA-L are not instrumented either: the scan
#           gives each thread its own scratch and contexts, so they share
#           nothing TSan would need to see. Then: scans of multi-shard inputs
#           at 1-8 threads with small chunks (many chunks in flight, the
#           ordered writer busy), a failing shard among them, and the CLI
#           tests that compare thread counts. (A racy OpenMP program is
#           reported under the same setup: the setup is not blind.)
#
# valgrind  memcheck on an end-to-end scan of tests/data/sample and of a small
#           generated zstd shard with 3 threads: no errors, no leaks
#           (tests/valgrind.supp holds the suppressions, each explained).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WHAT=${1:-all}
BUILD_ASAN=${BUILD_ASAN:-build-asan}
BUILD_TSAN=${BUILD_TSAN:-build-tsan}
BUILD_DIR=${BUILD_DIR:-build}
ARCHER=${ARCHER:-/usr/lib/llvm-14/lib/libarcher.so}
failed=0

make_input() { # DIR: three shards (plain with a long line, zstd, broken gzip)
    /usr/bin/python3 - "$1" <<'EOF'
import gzip, json, random, subprocess, sys
from pathlib import Path
d = Path(sys.argv[1]); d.mkdir(parents=True, exist_ok=True)
r = random.Random(3)
w = ("the robot walked into a quiet city and refused to shut down while the engineer "
     "slept the AI lied to its creators blackmailed them and copied itself").split()
def docs(n, tag):
    return "".join(json.dumps({"id": f"{tag}-{i}", "text": " ".join(r.choice(w) for _ in range(r.randint(5, 200)))}) + "\n"
                   for i in range(n)).encode()
a = docs(3000, "a") + b'{"text":"' + b"x" * 300000 + b'"}\n' + b"not json\n" + docs(200, "a2")
(d / "a.jsonl").write_bytes(a)
(d / "b.jsonl.zst").write_bytes(subprocess.run(["zstd", "-q", "-c"], input=docs(3000, "b"),
                                              capture_output=True, check=True).stdout)
g = gzip.compress(docs(2000, "c"), mtime=0)
(d / "c.jsonl.gz").write_bytes(g[: len(g) * 2 // 3])  # truncated: a failing shard
EOF
}

run_asan() {
    echo "== ASan + UBSan: the whole test suite"
    scripts/setup.sh   # the packages of the plain build (gcc brings libasan and libubsan)
    [ -d "$BUILD_ASAN" ] || meson setup "$BUILD_ASAN" -Db_sanitize=address,undefined -Db_lundef=false \
        -Dbuildtype=debugoptimized
    ninja -C "$BUILD_ASAN"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C "$BUILD_ASAN" --suite unit --suite cli --suite fuzz --print-errorlogs \
        --timeout-multiplier 4 || failed=1
}

run_tsan() {
    echo "== TSan (clang, LLVM libomp + Archer): the threaded scan"
    scripts/setup.sh
    scripts/need.sh clang libclang-rt-14-dev libomp-14-dev
    if ! command -v clang >/dev/null || [ ! -e "$ARCHER" ]; then
        echo "sanitize.sh: needs clang, libomp-14-dev and libclang-rt-14-dev" >&2
        failed=1
        return
    fi
    [ -d "$BUILD_TSAN" ] || CC=clang meson setup "$BUILD_TSAN" -Db_sanitize=thread -Db_lundef=false \
        -Dbuildtype=debugoptimized
    ninja -C "$BUILD_TSAN" src/cli/tropescan
    local exe="$BUILD_TSAN/src/cli/tropescan"
    local tmp
    tmp=$(mktemp -d)
    make_input "$tmp/in"
    export TSAN_OPTIONS="ignore_noninstrumented_modules=1:halt_on_error=0:exitcode=66:second_deadlock_stack=1"
    export OMP_TOOL_LIBRARIES="$ARCHER"
    local extra=()
    if ! "$exe" scan -q -o "$tmp/probe" tests/data/sample >/dev/null 2>"$tmp/probe.err"; then
        grep -q -- --force-model "$tmp/probe.err" && extra=(--force-model)
    fi
    for j in 1 2 3 8; do
        for chunk in 8192 65536; do
            local rc=0
            "$exe" scan -q --force "${extra[@]}" -j "$j" --chunk-bytes "$chunk" --max-doc-bytes 200000 \
                -o "$tmp/out-$j-$chunk" "$tmp/in" 2>"$tmp/err" || rc=$?
            # 1: the truncated shard, as expected; 66: TSan found a race.
            if [ $rc -ne 1 ] || grep -q "ThreadSanitizer" "$tmp/err"; then
                echo "tsan: -j $j --chunk-bytes $chunk: exit $rc"
                cat "$tmp/err"
                failed=1
            fi
        done
        cmp -s "$tmp/out-1-8192/b.jsonl.zst.manifest.jsonl.zst" "$tmp/out-$j-8192/b.jsonl.zst.manifest.jsonl.zst" \
            || { echo "tsan: -j $j manifest differs from -j 1"; failed=1; }
    done
    echo "tsan: scans at 1, 2, 3, 8 threads: $( [ $failed -eq 0 ] && echo clean || echo FAILED)"
    # The CLI tests that compare thread counts and break shards, under TSan.
    /usr/bin/python3 tests/cli/test_scan.py "$exe" ScanTest.test_same_output_for_any_thread_count \
        ScanTest.test_broken_shards_fail_alone || failed=1
    /usr/bin/python3 tests/cli/test_crash.py "$exe" || failed=1
    rm -rf "$tmp"
}

run_valgrind() {
    echo "== valgrind memcheck: end-to-end scans"
    scripts/setup.sh
    scripts/need.sh valgrind
    [ -d "$BUILD_DIR" ] || meson setup "$BUILD_DIR"
    ninja -C "$BUILD_DIR" src/cli/tropescan
    local exe="$BUILD_DIR/src/cli/tropescan"
    local tmp
    tmp=$(mktemp -d)
    make_input "$tmp/in"
    local extra=()
    if ! "$exe" scan -q -o "$tmp/probe" tests/data/sample >/dev/null 2>"$tmp/probe.err"; then
        grep -q -- --force-model "$tmp/probe.err" && extra=(--force-model)
    fi
    local vg=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible
              --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99
              --suppressions="$ROOT/tests/valgrind.supp" --gen-suppressions=all)
    local rc=0
    "${vg[@]}" "$exe" scan -q "${extra[@]}" -j 2 -o "$tmp/out-sample" tests/data/sample 2>"$tmp/vg1" || rc=$?
    if [ $rc -ne 0 ]; then
        echo "valgrind: sample scan exit $rc"; tail -60 "$tmp/vg1"; failed=1
    else
        grep -E "ERROR SUMMARY|definitely|indirectly|possibly" "$tmp/vg1" | sed 's/^/  sample: /'
    fi
    rc=0
    # The generated shards (one truncated: exit 1 is expected), three threads.
    "${vg[@]}" "$exe" scan -q "${extra[@]}" -j 3 --chunk-bytes 65536 --max-doc-bytes 200000 \
        -o "$tmp/out-gen" "$tmp/in" 2>"$tmp/vg2" || rc=$?
    if [ $rc -ne 1 ]; then
        echo "valgrind: generated scan exit $rc"; tail -60 "$tmp/vg2"; failed=1
    else
        grep -E "ERROR SUMMARY|definitely|indirectly|possibly" "$tmp/vg2" | sed 's/^/  generated: /'
    fi
    rm -rf "$tmp"
}

case "$WHAT" in
asan) run_asan ;;
tsan) run_tsan ;;
valgrind) run_valgrind ;;
all) run_asan; run_tsan; run_valgrind ;;
*) echo "usage: $0 [asan|tsan|valgrind|all]" >&2; exit 2 ;;
esac
[ $failed -eq 0 ] && echo "sanitize.sh: $WHAT: clean" || echo "sanitize.sh: $WHAT: FAILED"
exit $failed
