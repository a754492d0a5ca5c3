#!/usr/bin/env bash
# Installs everything flowstate needs on Debian/Ubuntu (run as root): the system packages
# (RocksDB headers and tools, a C++ toolchain for the native addon) and the npm dependencies.
# Idempotent: steps that are already done are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1; then
  echo "flowstate: Node.js 20.19, 22.12 or newer is required (https://nodejs.org or your distribution's nodejs package)." >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "flowstate: Node.js $(node --version) is too old; 20.19, 22.12 or newer is required." >&2
  exit 1
fi

# chromium: the checkpoint history page is tested end to end in headless Chromium (test/src/ui.test.ts).
pkgs=(librocksdb-dev rocksdb-tools g++ make python3 chromium)
if [ -f packages/rocksdb/APT_PACKAGES ]; then
  while read -r p; do [ -n "$p" ] && [ "${p:0:1}" != "#" ] && pkgs+=("$p"); done < packages/rocksdb/APT_PACKAGES
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "flowstate: please install: ${missing[*]} (macOS: brew install rocksdb)" >&2
    exit 1
  fi
  echo "flowstate: installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
