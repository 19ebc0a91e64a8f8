// Process-wide counters of what the readers did, for tf_ffm.stats(): cheap
// relaxed atomics, updated once per read, not per record.
#ifndef FFM_IO_IO_STATS_H_
#define FFM_IO_IO_STATS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace ffm {

struct IoStats {
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> read_requests{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> wait_ns{0};          // consumers blocked on data
  std::atomic<int64_t> bytes_in_flight{0};   // held by all byte budgets
  // The local block cache (block_cache.h), in blocks except where said.
  std::atomic<uint64_t> cache_hits{0};
  std::atomic<uint64_t> cache_misses{0};
  std::atomic<uint64_t> cache_hit_bytes{0};  // bytes served from the cache
  std::atomic<uint64_t> cache_evictions{0};
  std::atomic<uint64_t> cache_corrupt{0};    // entries dropped by a check
  std::atomic<uint64_t> cache_errors{0};     // entries that could not be written

  static IoStats& Global();

  // The counters above in this order (tf_ffm.metrics.FIELDS names them),
  // read with relaxed loads: each is current, the set is not one instant.
  static constexpr int kNumFields = 12;
  std::array<int64_t, kNumFields> Snapshot() const;
};

inline void Count(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.fetch_add(n, std::memory_order_relaxed);
}

// Adds the time from construction to destruction to IoStats::wait_ns.
class WaitTimer {
 public:
  WaitTimer() : start_(std::chrono::steady_clock::now()) {}
  ~WaitTimer() {
    Count(IoStats::Global().wait_ns,
          std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::steady_clock::now() - start_)
              .count());
  }

 private:
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace ffm

#endif  // FFM_IO_IO_STATS_H_
