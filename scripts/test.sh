#!/usr/bin/env bash
# Builds tropescan (installing missing Debian packages) and runs the whole test
# suite. Extra arguments go to `meson test` (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# For the tests only: the report's page is rendered in headless Chromium.
scripts/need.sh chromium ||
  echo "test: Debian's chromium could not be installed: the page-rendering test will be skipped" >&2
BUILD_DIR=${BUILD_DIR:-build}
meson test -C "$BUILD_DIR" --print-errorlogs "$@"
