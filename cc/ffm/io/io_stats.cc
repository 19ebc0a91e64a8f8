#include "ffm/io/io_stats.h"

namespace ffm {

IoStats& IoStats::Global() {
  static IoStats* stats = new IoStats;  // never destroyed: used at exit
  return *stats;
}

std::array<int64_t, IoStats::kNumFields> IoStats::Snapshot() const {
  auto get = [](const auto& counter) {
    return static_cast<int64_t>(counter.load(std::memory_order_relaxed));
  };
  return {get(bytes_read), get(read_requests), get(retries),
          get(errors),     get(wait_ns),       get(bytes_in_flight),
          get(cache_hits), get(cache_misses), get(cache_hit_bytes),
          get(cache_evictions), get(cache_corrupt), get(cache_errors)};
}

}  // namespace ffm
