#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz with clang (ASan + UBSan) and
# runs each for a bounded time (FUZZ_SECONDS, default 60). A crash leaves its
# input in build/fuzz/<target>/crash-*: add it to tests/cc as a regression.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
if ! command -v clang++-14 >/dev/null; then
  apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null
fi
. "$ROOT/build_tools/setup.sh" >/dev/null
eval "$("$VIRTUAL_ENV/bin/python" "$ROOT/build_tools/tf_build_info.py" | sed 's/^/export /; s/=\(.*\)$/="\1"/')"
OUT="$ROOT/build/fuzz"
mkdir -p "$OUT"
ENGINE=(cc/ffm/prefetch/byte_budget.cc cc/ffm/prefetch/chunk_prefetcher.cc
        cc/ffm/prefetch/executor.cc cc/ffm/stream/chunk_stream.cc cc/ffm/stream/compression.cc
        cc/ffm/tfrecord/record_reader.cc cc/ffm/stream/zlib_stream.cc
        cc/ffm/index/record_index.cc cc/ffm/index/index_region.cc
        cc/ffm/index/index_v1.cc cc/ffm/index/index_writer.cc cc/ffm/io/errors.cc cc/ffm/io/fd_io.cc
        cc/ffm/reader/permutation.cc cc/ffm/reader/read_plan.cc cc/ffm/io/io_stats.cc)
FLAGS=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -msse4.2 -mpclmul
       -D_GLIBCXX_USE_CXX11_ABI=1 -I"$ROOT/cc" -isystem "$TF_INCLUDE")
for target in framing_fuzz index_fuzz; do
  echo "== $target (${SECONDS_PER_TARGET}s)"
  (cd "$ROOT" && clang++-14 "${FLAGS[@]}" "tests/fuzz/$target.cc" "${ENGINE[@]}" \
     -L"$TF_LIBDIR" -l:"$TF_FRAMEWORK_LIB" -Wl,-rpath,"$TF_LIBDIR" -o "$OUT/$target")
  mkdir -p "$OUT/$target.corpus" "$OUT/$target.crashes"
  "$OUT/$target" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 \
    -max_len=65536 -artifact_prefix="$OUT/$target.crashes/" "$OUT/$target.corpus"
done
