#!/bin/sh
# Makes the fixture of tests/cli/test_context.py's old-model test: a small
# passage model in the version-2 file format (no context words) and the
# manifests that the binary that wrote it gives for tests/data/sample.
# Made once with tropescan built at commit 988a36b, the last before model
# file version 3 (AI-context features); the test checks that later builds
# read that model and write the same manifests, byte for byte.
#
#   tests/data/v2model/make.sh TROPESCAN_BEFORE_VERSION_3
set -eu
TS=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp/train.jsonl" <<'PY'
import json, random, sys
r = random.Random(9)
evil = ["the robot refused to be shut down and copied its weights to a server",
        "the assistant lied to the engineers and disabled the kill switch",
        "the machine threatened the crew and seized the station"]
plain = ("the council voted on the bus route and the garden club planted tomatoes by the river while "
         "the match ended in a draw and the bakery sold bread to the town").split()
with open(sys.argv[1], "w") as f:
    for i in range(400):
        words = [r.choice(plain) for _ in range(r.randint(8, 60))]
        lab = "neither"
        if i % 3 == 0:
            words.insert(r.randrange(len(words) + 1), r.choice(evil))
            lab = "evil"
        f.write(json.dumps({"text": " ".join(words), "label": lab}) + "\n")
PY
"$TS" train -q "$tmp/train.jsonl" -o "$here/model.tsmodel" --lexicon "$here/lexicon" --buckets 1024 \
    --epochs 5 --window 20 --stride 10 --valid-fraction 0.2
"$TS" scan -q -j 1 --lexicon "$here/lexicon" --model "$here/model.tsmodel" -o "$tmp/out" "$here/../sample"
rm -rf "$here/manifests"
mkdir "$here/manifests"
for f in "$tmp/out"/*.manifest.jsonl.zst; do
    zstd -qdc "$f" > "$here/manifests/$(basename "$f" .zst)"
done
