#!/usr/bin/env bash
# The whole test suite from a fresh machine: setup, C++ unit tests (CTest),
# then the Python tests (pytest). Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/build_tools/setup.sh"
cd "$ROOT"

echo "== C++ unit tests"
BUILD="$ROOT/build/cmake"  # setup.py's tree: the engine objects are reused
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DFFM_BUILD_TESTS=ON \
  -DPython3_EXECUTABLE="$VIRTUAL_ENV/bin/python" >/dev/null
cmake --build "$BUILD" --target ffm_engine_tests -j "${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
ctest --test-dir "$BUILD" --output-on-failure -j 2

echo "== Python tests"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
python -m pytest "$@"
