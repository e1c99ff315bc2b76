#!/usr/bin/env bash
# The main job: build tropescan (installing missing Debian packages), scan the
# bundled sample shards in tests/data/sample with the embedded default lexicon
# and model, and show what came out.
#   OUT   where the manifests and summary go (default: out/sample)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-out/sample}
tropescan="$BUILD_DIR/src/cli/tropescan"

set +e
"$tropescan" scan --force -o "$OUT" tests/data/sample
rc=$?
set -e
# Exit code 1 means some input failed while the rest completed; the sample has
# no broken shard, only broken lines, so anything but 0 is a failure here.
if [ "$rc" -ne 0 ]; then
  echo "run-sample: tropescan scan exited $rc" >&2
  exit "$rc"
fi
/usr/bin/python3 scripts/show_summary.py "$OUT"
