#!/usr/bin/env bash
# Prepares a fresh machine: system packages, a virtualenv with the Python
# dependencies, and an editable build of tf_ffm. Idempotent; safe to rerun.
# Source it (`. build_tools/setup.sh`) to get the venv activated.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TF_FFM_VENV:-$ROOT/.venv}"
APT_PACKAGES=(nginx-light libnginx-mod-http-lua rclone fuse3 libgtest-dev zlib1g-dev)

log() { echo "[setup] $*" >&2; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "missing Debian packages (install them as root): ${missing[*]}"
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
stamp="$VENV/.tf-ffm-requirements"
if ! cmp -s "$ROOT/build_tools/requirements-dev.txt" "$stamp"; then
  log "installing Python dependencies"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q -r "$ROOT/build_tools/requirements-dev.txt"
  cp "$ROOT/build_tools/requirements-dev.txt" "$stamp"
fi

log "building tf_ffm (editable)"
# No build isolation: the op must be compiled against the TensorFlow it runs with.
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
  "$PY" -m pip install -q --no-build-isolation --no-deps -e "$ROOT"

export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"
