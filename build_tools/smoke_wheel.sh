#!/usr/bin/env bash
# Installs the wheel from dist/ (or $TF_FFM_DIST) into a clean venv in a
# temporary directory, with its dependencies from the package index, and
# checks it from outside the source tree: the op library finds TensorFlow's
# and pyarrow's libraries through its $ORIGIN-relative RPATH, and
# FFMRecordDataset reads what tf.data.TFRecordDataset reads.
# Set TF_FFM_SMOKE_KEEP=1 to keep the venv (its path is printed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST="${TF_FFM_DIST:-$ROOT/dist}"
log() { echo "[smoke_wheel] $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

wheels=("$DIST"/tf_ffm-*.whl)
[ "${#wheels[@]}" = 1 ] && [ -f "${wheels[0]}" ] || fail "want one wheel in $DIST, found: ${wheels[*]}"
wheel="$(cd "$(dirname "${wheels[0]}")" && pwd)/$(basename "${wheels[0]}")"

WORK="$(mktemp -d)"
if [ "${TF_FFM_SMOKE_KEEP:-0}" = 1 ]; then log "keeping $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
log "clean venv in $WORK/venv"
"${PYTHON3:-python3}" -m venv "$WORK/venv"
PY="$WORK/venv/bin/python"
log "pip install $(basename "$wheel") (TensorFlow and pyarrow come from the index)"
"$PY" -m pip install -q "$wheel"

site="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')"
# Both compiled libraries: the op library and the pybind11 module.
for so in "$site"/tf_ffm/_ffm_ops*.so "$site"/tf_ffm/_engine*.so; do
  [ -f "$so" ] || fail "missing $so"
  log "dynamic section of $so"
  readelf -d "$so" | grep -E 'NEEDED|RPATH|RUNPATH'
  runpath="$(readelf -d "$so" | sed -n 's/.*R\(UN\)\?PATH.*\[\(.*\)\]/\2/p')"
  [ "$runpath" = '$ORIGIN/../tensorflow:$ORIGIN/../pyarrow' ] \
    || fail "RPATH is '$runpath', want \$ORIGIN/../tensorflow:\$ORIGIN/../pyarrow only"
  # ldd resolves NEEDED through that RPATH alone (no preloading, no LD_LIBRARY_PATH).
  deps="$(env -u LD_LIBRARY_PATH ldd "$so")"
  echo "$deps" | grep -E 'libtensorflow_framework|libarrow'
  ! echo "$deps" | grep -q 'not found' || fail "unresolved libraries:
  $deps"
  resolved() {  # the real path ldd found for library $1
    echo "$deps" | awk -v lib="$1" '$1 == lib && $2 == "=>" {print $3}' | xargs -r realpath
  }
  needed="$(readelf -d "$so" | sed -n 's/.*NEEDED.*\[\(lib\(tensorflow_framework\|arrow\|arrow_s3\)\.so[^]]*\)\]/\1/p')"
  [ "$(echo "$needed" | grep -c .)" = 3 ] || fail "want libtensorflow_framework, libarrow and libarrow_s3 in NEEDED, got: $needed"
  for lib in $needed; do
    case "$lib" in libtensorflow*) dir=tensorflow ;; *) dir=pyarrow ;; esac
    want="$(realpath "$site/$dir/$lib")"
    [ "$(resolved "$lib")" = "$want" ] || fail "$lib resolves to '$(resolved "$lib")', want $want"
  done
done
# The pybind11 module imports without TensorFlow's Python package.
(cd "$WORK" && "$PY" -c "import sys, tf_ffm._engine; assert 'tensorflow' not in sys.modules") \
  || fail "importing tf_ffm._engine failed or imported tensorflow"

cd "$WORK"  # outside the source tree: tf_ffm must come from the venv
cat > smoke.py <<'PYEOF'
import sys
from importlib import metadata

import tensorflow as tf
import tf_ffm

assert tf_ffm.__file__.startswith(sys.prefix), tf_ffm.__file__
requires = metadata.requires("tf-ffm")
minor = ".".join(tf.__version__.split(".")[:2])
assert f"tensorflow-cpu=={minor}.*" in requires, requires
assert any(r.startswith("pyarrow==") for r in requires), requires
path = "smoke.tfrecord"
with tf.io.TFRecordWriter(path) as w:
    for i in range(1000):
        w.write(b"record-%d" % i * (i % 7 + 1))
got = list(tf_ffm.FFMRecordDataset([path, path], num_parallel_reads=2).as_numpy_iterator())
want = list(tf.data.TFRecordDataset([path, path], num_parallel_reads=2).as_numpy_iterator())
assert got == want and len(got) == 2000, (len(got), len(want))
print(f"OK: tf_ffm {tf_ffm.__version__} from {tf_ffm.__file__}, TensorFlow "
      f"{tf.__version__}; {len(got)} records as tf.data.TFRecordDataset reads them")
PYEOF
TF_CPP_MIN_LOG_LEVEL=2 "$PY" smoke.py
