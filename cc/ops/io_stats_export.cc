// The op library's reader counters, for tf_ffm.stats() without an op.
//
// The engine is linked statically into each Python-facing library, so the
// dataset ops' readers count into this library's ffm::IoStats and the
// pybind module's calls into its own. Python reads this one through the C
// symbol below, on the library TF has already loaded (ctypes, RTLD_NOLOAD),
// and adds the module's (tf_ffm/metrics.py).
#include <algorithm>
#include <cstdint>

#include "ffm/io/io_stats.h"

// Copies up to `n` counters, in the order of tf_ffm.metrics.FIELDS, into
// `out`; returns how many there are.
extern "C" __attribute__((visibility("default"))) int tf_ffm_io_stats(
    int64_t* out, int n) {
  const auto values = ffm::IoStats::Global().Snapshot();
  const int count = static_cast<int>(values.size());
  std::copy_n(values.begin(), std::clamp(n, 0, count), out);
  return count;
}
