#!/usr/bin/env bash
# C++ unit tests under sanitizers: AddressSanitizer + UBSan over all of them,
# ThreadSanitizer over the concurrent parts (budget, pool, prefetcher, sources,
# readers, index builder).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/build_tools/setup.sh" >/dev/null
PY="$VIRTUAL_ENV/bin/python"

run() {  # name, cmake sanitizer flags, gtest filter
  local dir="$ROOT/build/sanitize-$1"
  cmake -S "$ROOT" -B "$dir" -G Ninja -DFFM_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPython3_EXECUTABLE="$PY" "-DFFM_SANITIZE=$2" >/dev/null
  cmake --build "$dir" --target ffm_engine_tests -j "${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
  echo "== $1"
  "$dir/ffm_engine_tests" --gtest_filter="$3" --gtest_brief=1
}

# TensorFlow's library is not instrumented; its allocations are not ours.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1"
run asan address,undefined '*'
run tsan thread '*ChunkPrefetcher*:*SequentialReader*:*RecordReader*:*Zlib*:*RandomReader*:*ByteBudget*:*PosixSource*:*ThreadPool*:*IndexBuilder*:*ChunkStream*:*FileCursor*:*CachingSource*:*IndexedSources*:*RecordIndex*'
