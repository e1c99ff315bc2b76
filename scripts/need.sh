#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are missing
# (apt-get, with sudo when not root). Every script that needs a package calls
# this first, so each of them works on a fresh Debian 12 machine.
#
# usage: scripts/need.sh PACKAGE...
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]})) || exit 0
echo "need: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# The package lists of a fresh machine may be stale or absent: update once
# only when the first attempt fails.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
