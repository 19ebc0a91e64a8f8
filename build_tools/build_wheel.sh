#!/usr/bin/env bash
# Builds tf_ffm's sdist, then a wheel from that sdist, into dist/ (or
# $TF_FFM_DIST), with the Python of the dev venv ($TF_FFM_VENV, as setup.sh).
#
# No build isolation: the op is compiled against the TensorFlow and pyarrow
# installed in that venv, and the wheel pins both (tensorflow-cpu==<minor>.*,
# pyarrow==<major>.*). Building from the unpacked sdist proves the sdist is
# complete and leaves the checkout's build/ tree alone; it is a full compile.
# The wheel is tagged linux_x86_64, not manylinux: the op links TensorFlow's
# and pyarrow's libraries where pip puts them ($ORIGIN-relative RPATH), and
# auditwheel must not copy them in.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TF_FFM_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
DIST="$(mkdir -p "${TF_FFM_DIST:-$ROOT/dist}" && cd "${TF_FFM_DIST:-$ROOT/dist}" && pwd)"
log() { echo "[build_wheel] $*" >&2; }

[ -x "$PY" ] || { log "no venv at $VENV: run build_tools/setup.sh or set TF_FFM_VENV"; exit 1; }
rm -f "$DIST"/tf_ffm-*.whl "$DIST"/tf_ffm-*.tar.gz "$DIST"/tf-ffm-*.tar.gz

cd "$ROOT"
log "sdist"
had_egg_info="$([ -d tf_ffm.egg-info ] && echo yes || true)"
if "$PY" -c "import build" 2>/dev/null; then
  "$PY" -m build --sdist --no-isolation --outdir "$DIST" .
else
  "$PY" setup.py -q sdist --dist-dir "$DIST"
fi
[ -n "$had_egg_info" ] || rm -rf tf_ffm.egg-info  # setup.py sdist's by-product
sdist="$(ls "$DIST"/tf[-_]ffm-*.tar.gz)"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
tar -xzf "$sdist" -C "$WORK"
src="$(echo "$WORK"/tf[-_]ffm-*)"
log "wheel from $(basename "$sdist") (compiling the op)"
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
  "$PY" -m pip wheel --no-build-isolation --no-deps -w "$DIST" "$src"
ls -l "$DIST"
