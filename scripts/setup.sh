#!/usr/bin/env bash
# Installs what tropescan needs from Debian's packages (only what is missing),
# then configures and builds it in ./build. Sourced by run-sample.sh and test.sh.
#   BUILD_DIR   where to build (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  gcc g++ pkg-config meson ninja-build python3
  libhyperscan-dev libzstd-dev libxxhash-dev libisal-dev zlib1g-dev
  zstd gzip python3-xxhash libjansson-dev
  python3-pandas python3-distributed
)
scripts/need.sh "${packages[@]}"

BUILD_DIR=${BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  meson setup "$BUILD_DIR" --buildtype=release >/dev/null
fi
ninja -C "$BUILD_DIR" >/dev/null
echo "setup: built $BUILD_DIR/src/cli/tropescan" >&2
