#!/usr/bin/env bash
# The main job on an embedded default: setup, then `tf-ffm bench --quick`
# (~1.5 min smoke run: 64 MiB datasets, read modes none and autotune, batched,
# one run per cell) on generated data with its own local servers.
# `bash build_tools/bench.sh --full` runs `tf-ffm bench` instead (~23-25 min on
# 2 cores: 512 MiB datasets, every read mode batched, none and gen element by
# element, 3 runs per cell; see `tf-ffm bench --help`).
# Other arguments go to bench, e.g. --profiles local --readers ffm.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/build_tools/setup.sh"
cd "$ROOT"
if [ "${1:-}" = "--full" ]; then
  shift
  exec tf-ffm bench "$@"
fi
exec tf-ffm bench --quick "$@"
