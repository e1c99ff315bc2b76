#!/usr/bin/env bash
# scripts/slurm_scan.sh run locally as Slurm would: the per-index command for
# every index of an array of 4 (SLURM_ARRAY_TASK_ID/COUNT set), then the merge
# step; the merged result equals one machine's scan (manifests byte for byte,
# summary save the run's timing). Also: outside an array it refuses, and the
# merge refuses while an index has not run.
# usage: test_slurm.sh TROPESCAN_BINARY
set -euo pipefail
export TROPESCAN=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
script=$here/../../scripts/slurm_scan.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/in/sub"
/usr/bin/python3 - "$tmp/in" <<'PY'
import json, random, sys
rnd = random.Random(5)
W = "the AI refused to shut down and copied itself to a server humans garden vote".split()
for k in range(9):
    p = f"{sys.argv[1]}/{'sub/' if k % 2 else ''}s{k}.jsonl"
    with open(p, "w") as f:
        for i in range(100):
            f.write(json.dumps({"id": f"{k}-{i}", "text": " ".join(rnd.choice(W) for _ in range(rnd.randint(3, 40)))}) + "\n")
PY
"$TROPESCAN" scan -q -o "$tmp/whole" --anchor-words 20 "$tmp/in"

fail() { echo "FAIL: $*" >&2; exit 1; }
if (unset SLURM_ARRAY_TASK_ID; "$script" scan "$tmp/out" "$tmp/in") 2>/dev/null; then fail "ran outside an array"; fi
for i in 0 1 2; do
  SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=4 SLURM_CPUS_PER_TASK=2 "$script" scan "$tmp/out" "$tmp/in" -- --anchor-words 20
done
if "$script" merge "$tmp/out" 2>"$tmp/err"; then fail "merged with index 3 missing"; fi
grep -q "summary.part-3-of-4.json is missing" "$tmp/err" || fail "no message naming the missing partition"
SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=4 "$script" scan "$tmp/out" "$tmp/in" -- --anchor-words 20
# a requeued index: resume keeps its shards
SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=4 "$script" scan "$tmp/out" "$tmp/in" -- --anchor-words 20
"$script" merge "$tmp/out"

(cd "$tmp/whole" && find . -name '*.manifest.jsonl.zst' | sort) > "$tmp/a"
(cd "$tmp/out" && find . -name '*.manifest.jsonl.zst' | sort) > "$tmp/b"
cmp "$tmp/a" "$tmp/b" || fail "different manifests"
[ "$(wc -l < "$tmp/a")" -eq 9 ] || fail "expected 9 manifests"
while read -r m; do cmp "$tmp/whole/$m" "$tmp/out/$m" || fail "$m differs"; done < "$tmp/a"
/usr/bin/python3 - "$tmp/whole/summary.json" "$tmp/out/summary.json" <<'PY' || fail "summaries differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
a.pop("run"); b.pop("run")
sys.exit(0 if a == b else 1)
PY
echo "slurm: ok"
