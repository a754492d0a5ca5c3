#!/usr/bin/env bash
# API reference of every public package, generated from the TSDoc comments with TypeDoc into
# docs/api/ (not committed; open docs/api/index.html). TypeDoc 0.28 supports TypeScript up to
# 6.0 while this repository compiles with TypeScript 7, so TypeDoc and a TypeScript 5.9 for it
# are installed outside the repository (npm registry), in $FLOWSTATE_TYPEDOC_PREFIX
# (default: $TMPDIR/flowstate-typedoc), and reused. Configuration: typedoc.json.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${FLOWSTATE_TYPEDOC_PREFIX:-${TMPDIR:-/tmp}/flowstate-typedoc}
if [ ! -x "$prefix/node_modules/.bin/typedoc" ]; then
  npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund --loglevel=error typedoc@0.28 typescript@5.9
fi
"$prefix/node_modules/.bin/typedoc" --options typedoc.json "$@"
