#!/usr/bin/env bash
# The main job on an embedded default: setup, then `tf-ffm bench --quick`
# on generated data with its own local servers. Extra arguments go to bench
# (e.g. `bash build_tools/bench.sh` without --quick: pass --full).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/build_tools/setup.sh"
cd "$ROOT"
if [ "${1:-}" = "--full" ]; then
  shift
  exec tf-ffm bench "$@"
fi
exec tf-ffm bench --quick "$@"
