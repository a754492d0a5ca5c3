#!/usr/bin/env bash
# ./quickstart.sh demo   -> installs what is missing, builds, runs the runtime demo (examples/src/runtime-demo.ts)
# ./quickstart.sh test   -> installs what is missing, builds, runs every test (npm test)
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
case "${1:-demo}" in
  demo) npm run demo ;;
  test) npm test ;;
  *) echo "usage: ./quickstart.sh demo|test" >&2; exit 2 ;;
esac
