#!/usr/bin/env bash
# bench/run.sh: the tropescan benchmark, one command (see bench/README.md).
#
#   bench/run.sh [--tiny] [--rounds N] [--size-mb MB] [--shards N] [--gzip-mb MB]
#                [--threads N] [--data DIR] [--lexicon DIR] [--no-build] [--no-tropescan]
#                [--ref-tropescan BIN] [--gate]
#
# Builds tropescan (meson release build in bench/out/build), installs missing
# tools with apt-get when run as root, generates the corpus (cached between
# runs) in /dev/shm when it has room or in bench/out/data, then times cat,
# zstd, igzip/gzip, ripgrep, GNU grep, fastText and tropescan side by side
# (bench/bench.py) and writes bench/out/results.json.
# Exit status: 0 when every tool ran, non-zero when something broke.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out="$here/out"
rounds=5 size_mb=2048 shards=8 gzip_mb=256 tiny=0 build=1 use_ts=1 data="" lexdir="" ref_ts="" gate=0
threads=$(nproc)
cmdline="bench/run.sh $*"

die() { echo "bench: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --tiny) tiny=1; size_mb=6; shards=2; gzip_mb=2; rounds=1 ;;
        --rounds) rounds=${2:?}; shift ;;
        --size-mb) size_mb=${2:?}; shift ;;
        --shards) shards=${2:?}; shift ;;
        --gzip-mb) gzip_mb=${2:?}; shift ;;
        --threads) threads=${2:?}; shift ;;
        --data) data=${2:?}; shift ;;
        --lexicon) lexdir=${2:?}; shift ;;
        --no-build) build=0 ;;
        --no-tropescan) use_ts=0 ;;
        --ref-tropescan) ref_ts=${2:?}; shift ;;
        --gate) gate=1 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
    shift
done
mkdir -p "$out"

# --------------------------------------------------------------- tools
# command -> Debian package; installed like the project's other set-up steps.
need=""
for pair in zstd:zstd gzip:gzip rg:ripgrep grep:grep fasttext:fasttext igzip:isal \
            meson:meson ninja:ninja-build /usr/bin/time:time; do
    c=${pair%%:*} pkg=${pair#*:}
    command -v "$c" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "bench: installing$need" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null ||
            { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null; } ||
            echo "bench: apt-get could not install$need" >&2
    else
        echo "bench: missing$need (not root: install them to measure everything)" >&2
    fi
fi
for c in zstd gzip /usr/bin/time; do
    command -v "$c" >/dev/null || die "$c is required"
done

# --------------------------------------------------------------- build
ts=""
if [ "$use_ts" = 1 ]; then
    bdir="$out/build"
    if [ "$build" = 1 ]; then
        if [ ! -f "$bdir/build.ninja" ]; then
            meson setup --buildtype=release "$bdir" "$root" >/dev/null
        fi
        ninja -C "$bdir" src/cli/tropescan >/dev/null
    fi
    ts="$bdir/src/cli/tropescan"
    [ -x "$ts" ] || die "no tropescan binary at $ts"
fi

# --------------------------------------------------------------- corpus
if [ -z "$data" ]; then
    # tmpfs keeps disk speed out of the figures; the corpus needs about 0.8x
    # its decompressed size there (shards + the single large shard).
    need_kb=$(awk -v m="$size_mb" -v g="$gzip_mb" 'BEGIN { printf "%d", (m * 0.9 + g * 0.5) * 1000 }')
    if [ -d /dev/shm ] && [ -w /dev/shm ] &&
       [ "$(df -Pk /dev/shm | awk 'NR==2 { print $4 }')" -gt "$need_kb" ]; then
        data=/dev/shm/tropescan-bench-$(id -u)
    else
        data="$out/data"
    fi
fi
[ "$tiny" = 1 ] && data="$data-tiny"
gen_args="--size-mb $size_mb --shards $shards --gzip-mb $gzip_mb --seed 1"
stamp="$gen_args $(sha1sum "$here/gen_corpus.py" | cut -c1-12)"
if [ "$(cat "$data/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$data"
    mkdir -p "$data/big"
    echo "bench: generating corpus in $data ($gen_args)" >&2
    /usr/bin/python3 "$here/gen_corpus.py" -o "$data" $gen_args
    # The same documents as one large single-frame shard, for parallelism
    # inside one file (zstd -T0 still writes one frame).
    zstd -dcq "$data"/zst/*.zst | zstd -3 -T0 -q -o "$data/big/single.jsonl.zst"
    echo "$stamp" > "$data/.stamp"
else
    echo "bench: reusing corpus in $data" >&2
fi

# --------------------------------------------------------------- lexicon, fastText
pat="$out/patterns.txt"
# One literal per pattern (its first expansion): about 300 phrases. The full
# expansion of the default lexicon is ~640k phrases, more than rg -F -i can
# take (see README); this is a subset, so rg and grep get the easier task.
/usr/bin/python3 "$here/lexicon_phrases.py" --max-variants 1 "${lexdir:-$root/lexicons}" > "$pat"
echo "bench: $(wc -l < "$pat") literal phrases from ${lexdir:-lexicons/}" >&2
[ -s "$pat" ] || die "no phrases expanded from ${lexdir:-lexicons/}"

ftargs=()
if command -v fasttext >/dev/null; then
    # tiny: a small model, only to prove the pipeline works. wordNgrams 2,
    # as the quality/topic classifiers of data pipelines use.
    if [ "$tiny" = 1 ]; then
        ft="$out/fasttext-tiny" ftopts="-wordNgrams 2 -epoch 1 -dim 16 -bucket 100000"
    else
        ft="$out/fasttext" ftopts="-wordNgrams 2 -epoch 5"
    fi
    ftstamp="$ftopts $(sha1sum "$here/gen_corpus.py" | cut -c1-12)"
    if [ ! -f "$ft.bin" ] || [ "$(cat "$ft.stamp" 2>/dev/null)" != "$ftstamp" ]; then
        /usr/bin/python3 "$here/gen_corpus.py" --fasttext-train "$out/ft-train.txt"
        fasttext supervised -input "$out/ft-train.txt" -output "$ft" $ftopts \
            -thread "$threads" -verbose 0
        rm -f "$ft.vec"
        fasttext test "$ft.bin" "$out/ft-train.txt" >&2
        echo "$ftstamp" > "$ft.stamp"
    fi
    ftargs=(--ft-model "$ft.bin")
fi
tsargs=()
[ -n "$ts" ] && tsargs=(--tropescan "$ts")
# A lexicon given with --lexicon replaces the default in tropescan too.
[ -n "$ts" ] && [ -n "$lexdir" ] && tsargs+=(--ts-args "--lexicon $lexdir")
# Another build (e.g. of main) side by side, and the gated scan.
[ -n "$ts" ] && [ -n "$ref_ts" ] && tsargs+=(--ref-tropescan "$ref_ts")
[ -n "$ts" ] && [ "$gate" = 1 ] && tsargs+=(--gate)

results="$out/results.json"
[ "$tiny" = 1 ] && results="$out/results-tiny.json"
exec /usr/bin/python3 "$here/bench.py" --data "$data" --results "$results" \
    --rounds "$rounds" --threads "$threads" --root "$root" --command-line "$cmdline" \
    $([ "$tiny" = 1 ] && echo --tiny) \
    --patterns "$pat" "${ftargs[@]}" "${tsargs[@]}"
