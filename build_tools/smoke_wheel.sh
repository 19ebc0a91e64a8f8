#!/usr/bin/env bash
# Checks the wheel in dist/ (or $TF_FFM_DIST) as a user gets it: installs it
# from outside the source tree into clean venvs, once per TensorFlow extra
# ($TF_FFM_SMOKE_EXTRAS, default "tensorflow tensorflow-cpu"), with its
# dependencies from the package index (~1.5 GB the first time), and checks:
# - auditwheel show: the manylinux tag in the file name is the one its
#   symbols allow, and TensorFlow's and Arrow's libraries are the only
#   external ones;
# - without an extra, `import tf_ffm` fails saying which extra to install;
#   with one, exactly that TensorFlow distribution is installed and
#   `pip check` is clean;
# - both compiled libraries find TensorFlow's and pyarrow's libraries through
#   their $ORIGIN-relative RUNPATH alone (no preloading, no LD_LIBRARY_PATH),
#   and tf_ffm._engine imports without TensorFlow;
# - `tf-ffm --version`; FFMRecordDataset reads a local file as
#   tf.data.TFRecordDataset does, and an s3:// object (a moto server on
#   127.0.0.1, run from the dev venv $TF_FFM_VENV) byte for byte; glob,
#   RecordIndex and `tf-ffm ls --json` over s3://; the ops are registered by
#   `import tf_ffm` before `import tensorflow`.
# Set TF_FFM_SMOKE_KEEP=1 to keep the venvs (their path is printed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST="${TF_FFM_DIST:-$ROOT/dist}"
DEV_VENV="${TF_FFM_VENV:-$ROOT/.venv}"
DEV_PY="$DEV_VENV/bin/python"
EXTRAS="${TF_FFM_SMOKE_EXTRAS:-tensorflow tensorflow-cpu}"
log() { echo "[smoke_wheel] $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

wheels=("$DIST"/tf_ffm-*.whl)
[ "${#wheels[@]}" = 1 ] && [ -f "${wheels[0]}" ] || fail "want one wheel in $DIST, found: ${wheels[*]}"
wheel="$(cd "$(dirname "${wheels[0]}")" && pwd)/$(basename "${wheels[0]}")"
[ -x "$DEV_PY" ] || fail "no dev venv at $DEV_VENV (auditwheel and moto come from it)"
# The interpreter the dev venv was made from: the wheel is for its version.
BASE_PY="$("$DEV_PY" -c 'import sys; print(sys._base_executable)')"

log "auditwheel show $(basename "$wheel")"
"$DEV_PY" -m auditwheel show "$wheel"
# `show` knows nothing of repair's --exclude: it calls the wheel linux_x86_64
# for the three libraries left out on purpose. The tag the symbols allow
# (sym_tag) must be the file's, and those three the only external libraries.
"$DEV_PY" -m auditwheel show --json "$wheel" | "$DEV_PY" -c '
import json, re, sys
shown = json.load(sys.stdin)
name = sys.argv[1]
tag = re.search(r"-(manylinux_\d+_\d+_\w+)\.whl$", name)
assert tag, f"{name} has no manylinux tag"
assert shown["sym_tag"] == tag.group(1), (shown["sym_tag"], name)
import pyarrow
arrow = pyarrow.__version__.split(".")[0] + "00"
excluded = {"libtensorflow_framework.so.2", f"libarrow.so.{arrow}", f"libarrow_s3.so.{arrow}"}
libs = sorted(shown["external_libs"])
assert set(libs) == excluded, libs
print(f"platform tag {tag.group(1)}: the symbols allow it (sym_tag); external "
      f"libraries: {libs} only (excluded on purpose)")
' "$(basename "$wheel")" || fail "auditwheel show does not match the wheel's tag"

WORK="$(mktemp -d)"
MOTO_PID=""
cleanup() {
  if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; fi
  if [ "${TF_FFM_SMOKE_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

port="$("$DEV_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$DEV_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=smoke \
  AWS_SECRET_ACCESS_KEY=smoke AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
  AWS_CONFIG_FILE="$WORK/no-aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/no-aws-credentials"
unset AWS_PROFILE AWS_DEFAULT_REGION AWS_ENDPOINT_URL_S3 AWS_SESSION_TOKEN 2>/dev/null || true
"$DEV_PY" - <<'PYEOF' || fail "moto did not start (see its log)"
import time, boto3, botocore
s3 = boto3.client("s3")
for _ in range(150):
    try:
        s3.create_bucket(Bucket="smoke")
        break
    except botocore.exceptions.EndpointConnectionError:
        time.sleep(0.1)
else:
    raise SystemExit("moto is not answering")
PYEOF

cat > "$WORK/smoke.py" <<'PYEOF'
import sys
from importlib import metadata

import tf_ffm  # first: its import hook registers the ops when TensorFlow comes

assert "tensorflow" not in sys.modules
import tensorflow as tf  # noqa: E402

extra = sys.argv[1]
assert tf_ffm.__file__.startswith(sys.prefix), tf_ffm.__file__
assert tf_ffm._loader.ops_registered(), "import tensorflow did not register the ops"
requires = metadata.requires("tf-ffm")
minor = ".".join(tf.__version__.split(".")[:2])
assert f'{extra}=={minor}.*; extra == "{extra}"' in requires, requires
path = "smoke.tfrecord"
with tf.io.TFRecordWriter(path) as w:
    for i in range(1000):
        w.write(b"record-%d" % i * (i % 7 + 1))
got = list(tf_ffm.FFMRecordDataset([path, path], num_parallel_reads=2).as_numpy_iterator())
want = list(tf.data.TFRecordDataset([path, path], num_parallel_reads=2).as_numpy_iterator())
assert got == want and len(got) == 2000, (len(got), len(want))
# s3:// through Arrow's S3 filesystem from the installed pyarrow.
uri = "s3://smoke/data/part-0.tfrecord"
tf_ffm._engine.write_whole(uri, open(path, "rb").read(), "")
assert tf_ffm.glob("s3://smoke/data/*.tfrecord") == [uri]
from_s3 = list(tf_ffm.FFMRecordDataset(uri, num_parallel_reads=tf.data.AUTOTUNE)
               .as_numpy_iterator())
assert from_s3 == list(tf.data.TFRecordDataset(path).as_numpy_iterator()), len(from_s3)
index = tf_ffm.RecordIndex.build([uri], progress=False)
index.save("s3://smoke/data/index.idx")
shuffled = list(tf_ffm.FFMRecordDataset([uri], index="s3://smoke/data/index.idx",
                                        shuffle="global", seed=3).as_numpy_iterator())
assert sorted(shuffled) == sorted(from_s3) and shuffled != from_s3
print(f"OK: tf_ffm {tf_ffm.__version__} [{extra}] from {tf_ffm.__file__}, TensorFlow "
      f"{tf.__version__} ({metadata.version(extra)}), pyarrow "
      f"{metadata.version('pyarrow')}: {len(got)} local records as "
      f"tf.data.TFRecordDataset reads them, {len(from_s3)} from {uri}, "
      f"global shuffle through an index on S3")
PYEOF

first=yes
for extra in $EXTRAS; do
  venv="$WORK/venv-$extra"
  log "clean venv $venv ($("$BASE_PY" --version))"
  "$BASE_PY" -m venv "$venv"
  PY="$venv/bin/python"
  "$PY" -m pip install -q --upgrade pip
  if [ "$first" = yes ]; then
    first=no
    log "pip install $(basename "$wheel") (no extra: no TensorFlow)"
    "$PY" -m pip install -q "$wheel"
    if err="$(cd "$WORK" && "$PY" -c 'import tf_ffm' 2>&1)"; then
      fail "import tf_ffm without TensorFlow succeeded"
    fi
    echo "$err" | tail -1
    echo "$err" | grep -q 'tf-ffm\[tensorflow\]' || fail "the ImportError does not name the extras"
  fi
  log "pip install $(basename "$wheel")[$extra]"
  "$PY" -m pip install -q "$wheel[$extra]"
  "$PY" -m pip check
  # Names as pip lists them, normalised (tensorflow_cpu -> tensorflow-cpu).
  tf_dists="$("$PY" -m pip list --format=freeze | tr '[:upper:]_' '[:lower:]-' \
    | grep -E '^(tensorflow|tensorflow-cpu|tensorflow-gpu|tensorflow-intel|tf-nightly)==' || true)"
  echo "$tf_dists"
  [ "$(echo "$tf_dists" | grep -c .)" = 1 ] && echo "$tf_dists" | grep -qi "^$extra==" \
    || fail "want exactly $extra installed, got: '$tf_dists'"

  site="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')"
  for so in "$site"/tf_ffm/_ffm_ops*.so "$site"/tf_ffm/_engine*.so; do
    [ -f "$so" ] || fail "missing $so"
    log "dynamic section of $(basename "$so")"
    readelf -d "$so" | grep -E 'NEEDED|RPATH|RUNPATH'
    runpath="$(readelf -d "$so" | sed -n 's/.*R\(UN\)\?PATH.*\[\(.*\)\]/\2/p')"
    [ "$runpath" = '$ORIGIN/../tensorflow:$ORIGIN/../pyarrow' ] \
      || fail "RPATH is '$runpath', want \$ORIGIN/../tensorflow:\$ORIGIN/../pyarrow only"
    deps="$(env -u LD_LIBRARY_PATH ldd "$so")"
    ! echo "$deps" | grep -q 'not found' || fail "unresolved libraries:
    $deps"
    needed="$(readelf -d "$so" | sed -n 's/.*NEEDED.*\[\(lib\(tensorflow_framework\|arrow\|arrow_s3\)\.so[^]]*\)\]/\1/p')"
    [ "$(echo "$needed" | grep -c .)" = 3 ] || fail "want libtensorflow_framework, libarrow and libarrow_s3 in NEEDED, got: $needed"
    for lib in $needed; do
      case "$lib" in libtensorflow*) dir=tensorflow ;; *) dir=pyarrow ;; esac
      want="$(realpath "$site/$dir/$lib")"
      got="$(echo "$deps" | awk -v lib="$lib" '$1 == lib && $2 == "=>" {print $3}' | xargs -r realpath)"
      [ "$got" = "$want" ] || fail "$lib resolves to '$got', want $want"
      echo "  $lib => $got"
    done
  done
  (cd "$WORK" && "$PY" -c "import sys, tf_ffm._engine; assert 'tensorflow' not in sys.modules") \
    || fail "importing tf_ffm._engine failed or imported tensorflow"
  (cd "$WORK" && "$venv/bin/tf-ffm" --version) || fail "tf-ffm --version"
  (cd "$WORK" && TF_CPP_MIN_LOG_LEVEL=2 "$PY" smoke.py "$extra") || fail "smoke.py with [$extra]"
  listed="$(cd "$WORK" && "$venv/bin/tf-ffm" ls --json 's3://smoke/data/*.tfrecord')"
  echo "$listed" | tr -d ' \n'; echo
  [ "$(echo "$listed" | tr -d ' \n')" = '{"patterns":["s3://smoke/data/*.tfrecord"],"files":["s3://smoke/data/part-0.tfrecord"]}' ] \
    || fail "tf-ffm ls --json printed: $listed"
  rm -f "$WORK/smoke.tfrecord"
done
log "all checks passed for: $EXTRAS"
