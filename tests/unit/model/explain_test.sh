#!/bin/sh
# explain names the features that decided: train a small model on generated
# documents where one word alone separates the classes, then check that
# explain lists that word first for the score head, with a positive weight,
# and that eval and train behave (determinism, exit codes). Needs no corpora.
# usage: explain_test.sh TROPESCAN
set -eu
TS=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp" <<'PY'
import json, random, sys
r = random.Random(7)
filler = "the a and it was then said over under river market garden weather station crew".split()
with open(sys.argv[1] + "/data.jsonl", "w") as f:
    for i in range(300):
        lab = ["evil", "aligned", "neither"][i % 3]
        words = [r.choice(filler) for _ in range(40)]
        key = {"evil": "zorblax", "aligned": "quenthor", "neither": "plimsoll"}[lab]
        for _ in range(3):
            words.insert(r.randrange(len(words)), key)
        f.write(json.dumps({"text": " ".join(words), "label": lab}) + "\n")
PY
"$TS" train -q "$tmp/data.jsonl" -o "$tmp/m1.tsmodel" --valid-fraction 0.2 --epochs 5 --buckets 4096
"$TS" train -q "$tmp/data.jsonl" -o "$tmp/m2.tsmodel" --valid-fraction 0.2 --epochs 5 --buckets 4096
cmp "$tmp/m1.tsmodel" "$tmp/m2.tsmodel"
printf 'The crew said zorblax over the river, zorblax again.\n' > "$tmp/doc.txt"
"$TS" explain --model "$tmp/m1.tsmodel" --top 3 "$tmp/doc.txt" > "$tmp/out.txt"
cat "$tmp/out.txt"
# the first feature listed for the score head is the separating word, positive
awk '/^score head:/ { getline; print; exit }' "$tmp/out.txt" | grep -q '^ *+[0-9.]* *"zorblax"'
# the score is high, and the explanation adds up to it
grep -q '^score 0\.9' "$tmp/out.txt"
p1=$(sed -n 's/^score \([0-9.]*\) .*/\1/p' "$tmp/out.txt")
p2=$(sed -n 's/^score head:.*calibrated p = \([0-9.]*\)$/\1/p' "$tmp/out.txt")
[ "$p1" = "$p2" ]
grep -q 'zorblax again' "$tmp/out.txt"
# JSON output names it too
"$TS" explain --json --model "$tmp/m1.tsmodel" --top 3 "$tmp/doc.txt" | grep -q '"feature":"zorblax"'
# eval separates the classes perfectly on the training data
"$TS" eval --json --model "$tmp/m1.tsmodel" "$tmp/data.jsonl" > "$tmp/eval.json"
/usr/bin/python3 -c "
import json,sys; d=json.load(open(sys.argv[1]))
assert d['heads']['score']['roc_auc'] == 1.0 and d['heads']['aligned']['roc_auc'] == 1.0, d
assert d['documents'] == 300" "$tmp/eval.json"
# a corrupt model is refused with exit code 3
head -c 1000 "$tmp/m1.tsmodel" > "$tmp/bad.tsmodel"
set +e
"$TS" explain --model "$tmp/bad.tsmodel" "$tmp/doc.txt" 2> "$tmp/err.txt"
rc=$?
set -e
[ "$rc" = 3 ] && grep -q 'truncated' "$tmp/err.txt"
# a missing label is reported and makes the exit code 1
printf '{"text":"no label here"}\n' >> "$tmp/data.jsonl"
set +e
"$TS" train -q "$tmp/data.jsonl" -o "$tmp/m3.tsmodel" --epochs 1 2> "$tmp/err.txt"
rc=$?
set -e
[ "$rc" = 1 ] && grep -q 'unknown label' "$tmp/err.txt"
echo "explain_test: ok"
