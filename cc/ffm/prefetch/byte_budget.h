// One memory budget shared by every file a reader has open, so readahead
// across N interleaved files never holds more than `limit` bytes of
// speculative chunks.
#ifndef FFM_PREFETCH_BYTE_BUDGET_H_
#define FFM_PREFETCH_BYTE_BUDGET_H_

#include <atomic>
#include <cstdint>

namespace ffm {

class ByteBudget {
 public:
  explicit ByteBudget(uint64_t limit) : limit_(limit) {}

  // For readahead: takes `n` bytes only if they fit under the limit.
  bool TryAcquire(uint64_t n);

  // For the chunk a consumer is blocked on: always succeeds, even over the
  // limit. Without it, files holding unconsumed chunks could starve the one
  // file the consumer needs next and deadlock. So the true bound is
  // limit + one chunk per open file.
  void ForceAcquire(uint64_t n);

  void Release(uint64_t n);

  uint64_t limit() const { return limit_; }
  uint64_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  uint64_t peak() const { return peak_.load(std::memory_order_relaxed); }

 private:
  void NotePeak(uint64_t now);

  const uint64_t limit_;
  std::atomic<uint64_t> in_use_{0};
  std::atomic<uint64_t> peak_{0};
};

}  // namespace ffm

#endif  // FFM_PREFETCH_BYTE_BUDGET_H_
