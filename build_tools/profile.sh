#!/usr/bin/env bash
# CPU profile of both readers on local data: `perf stat` (cycles, context
# switches, page faults, migrations) and the top symbols of `perf record`
# for one bench worker run per (reader, read mode), written to
# docs/profile-<label>.txt. Needs linux-perf; the data is the bench's
# generated datasets (run `tf-ffm bench --quick` once first).
#   bash build_tools/profile.sh [label] [dataset-dir]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/build_tools/setup.sh" >/dev/null
LABEL="${1:-current}"
DATA="${2:-${XDG_CACHE_HOME:-$HOME/.cache}/tf-ffm/bench-data/large}"
OUT="$ROOT/docs/profile-$LABEL.txt"
FILES=("$DATA"/*.tfrecord)
export TF_CPP_MIN_LOG_LEVEL=2
command -v perf >/dev/null || { echo "perf not found (Debian: linux-perf)" >&2; exit 1; }
{
  echo "# perf profile ($LABEL): $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) CPUs"
  echo "# data: ${#FILES[@]} files in $DATA; each run reads the files 4 times, batch(256)"
  for reader in stock ffm; do
    for mode in none autotune gen; do
      run=(python -m tf_ffm.bench.worker --reader "$reader" --read-mode "$mode"
           --consumption batched --min-seconds 2 --files "${FILES[@]}")
      echo; echo "## $reader $mode"
      perf stat -x, -e task-clock,context-switches,cpu-migrations,page-faults \
        "${run[@]}" 2>/tmp/tf-ffm-perf-stat.txt | tail -1
      cut -d, -f1,3 /tmp/tf-ffm-perf-stat.txt | grep -v '^$'
      perf record -q -F 499 -g -o /tmp/tf-ffm-perf.data "${run[@]}" >/dev/null 2>&1
      perf report -i /tmp/tf-ffm-perf.data --no-children --sort dso,sym \
        --stdio -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | head -15
    done
  done
} | tee "$OUT"
echo "wrote $OUT" >&2
