#!/usr/bin/env bash
# CPU profile of both readers on local data: `perf stat` (cycles, context
# switches, page faults, migrations) and the top symbols of `perf record`
# for one run of build_tools/profile_run.py per (reader, read mode),
# written to docs/profile-<label>.txt. Needs linux-perf; the data is the
# bench's generated datasets (run `tf-ffm bench` once first). To profile
# another checkout's tf_ffm (a "before"), put it first on PYTHONPATH:
#   bash build_tools/profile.sh [label] [dataset-dir]
#   PYTHONPATH=/tmp/old-checkout bash build_tools/profile.sh before
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/build_tools/setup.sh" >/dev/null
LABEL="${1:-current}"
DATA="${2:-${XDG_CACHE_HOME:-$HOME/.cache}/tf-ffm/bench-data/512MiB-4x/large}"
OUT="$ROOT/docs/profile-$LABEL.txt"
FILES=("$DATA"/*.tfrecord)
export TF_CPP_MIN_LOG_LEVEL=2
command -v perf >/dev/null || { echo "perf not found (Debian: linux-perf)" >&2; exit 1; }
{
  echo "# perf profile ($LABEL): tf_ffm from ${PYTHONPATH:-$ROOT}, $(nproc) CPUs"
  echo "# data: ${#FILES[@]} files in $DATA; each run reads them 4 times, batch(256)"
  for reader in stock ffm; do
    for mode in none autotune gen; do
      run=(python "$ROOT/build_tools/profile_run.py" "$reader" "$mode" 4 "${FILES[@]}")
      echo; echo "## $reader $mode"
      perf stat -x, -e task-clock,context-switches,cpu-migrations,page-faults \
        "${run[@]}" 2>/tmp/tf-ffm-perf-stat.txt | tail -1
      grep -v '^[A-Z]' /tmp/tf-ffm-perf-stat.txt > /tmp/tf-ffm-perf-stat.csv || true
      mv /tmp/tf-ffm-perf-stat.csv /tmp/tf-ffm-perf-stat.txt
      cut -d, -f1,3 /tmp/tf-ffm-perf-stat.txt | grep -v '^$'
      perf record -q -F 499 -g -o /tmp/tf-ffm-perf.data "${run[@]}" >/dev/null 2>&1
      perf report -i /tmp/tf-ffm-perf.data --no-children --sort dso,sym \
        --stdio -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | head -15 || true
    done
  done
} | tee "$OUT"
echo "wrote $OUT" >&2
