#!/usr/bin/env bash
# Builds tropescan (installing missing Debian packages) and runs the whole test
# suite. Extra arguments go to `meson test` (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
meson test -C "$BUILD_DIR" --print-errorlogs "$@"
