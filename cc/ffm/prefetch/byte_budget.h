// One memory budget shared by every file a reader has open, so readahead
// across N interleaved files never holds more than `limit` bytes of
// speculative chunks.
#ifndef FFM_PREFETCH_BYTE_BUDGET_H_
#define FFM_PREFETCH_BYTE_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "ffm/prefetch/page_buffer.h"

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

  // Chunk memory, recycled: a fresh buffer costs a page fault (and the
  // kernel zeroing the page) per 4 KiB, more than the read itself on page
  // cache. Free buffers are kept only while in_use + kept <= limit.
  // Return a buffer before releasing its charge: released first, another
  // thread's TryAcquire could take the room and the buffer would be freed,
  // only for that read to fault in a fresh one.
  PageBuffer TakeBuffer(uint64_t capacity);
  void ReturnBuffer(PageBuffer buffer, uint64_t capacity);

  // Counts releases, so a reader can tell cheaply whether room may have
  // been made since it last looked.
  uint64_t releases() const { return releases_.load(std::memory_order_relaxed); }

  uint64_t limit() const { return limit_; }
  uint64_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  uint64_t peak() const { return peak_.load(std::memory_order_relaxed); }

 private:
  void NotePeak(uint64_t now);

  const uint64_t limit_;
  std::atomic<uint64_t> in_use_{0};
  std::atomic<uint64_t> peak_{0};
  std::atomic<uint64_t> releases_{0};

  std::mutex free_mu_;
  std::map<uint64_t, std::vector<PageBuffer>> free_;  // by size
  uint64_t free_bytes_ = 0;
};

}  // namespace ffm

#endif  // FFM_PREFETCH_BYTE_BUDGET_H_
