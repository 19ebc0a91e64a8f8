#include "ffm/prefetch/byte_budget.h"

#include "ffm/io/io_stats.h"

namespace ffm {

bool ByteBudget::TryAcquire(uint64_t n) {
  uint64_t cur = in_use_.load(std::memory_order_relaxed);
  do {
    if (n > limit_ || cur > limit_ - n) return false;  // no overflow
  } while (!in_use_.compare_exchange_weak(cur, cur + n,
                                          std::memory_order_relaxed));
  NotePeak(cur + n);
  IoStats::Global().bytes_in_flight.fetch_add(n, std::memory_order_relaxed);
  return true;
}

void ByteBudget::ForceAcquire(uint64_t n) {
  NotePeak(in_use_.fetch_add(n, std::memory_order_relaxed) + n);
  IoStats::Global().bytes_in_flight.fetch_add(n, std::memory_order_relaxed);
}

void ByteBudget::Release(uint64_t n) {
  in_use_.fetch_sub(n, std::memory_order_relaxed);
  releases_.fetch_add(1, std::memory_order_relaxed);
  IoStats::Global().bytes_in_flight.fetch_sub(n, std::memory_order_relaxed);
}

PageBuffer ByteBudget::TakeBuffer(uint64_t capacity) {
  {
    std::lock_guard<std::mutex> lock(free_mu_);
    auto it = free_.find(capacity);
    if (it != free_.end() && !it->second.empty()) {
      PageBuffer buffer = std::move(it->second.back());
      it->second.pop_back();
      free_bytes_ -= capacity;
      return buffer;
    }
  }
  // No buffer of this size is free. Kept buffers of other sizes (a file's
  // growing first reads, odd last chunks) must not hold memory the budget
  // now needs: drop them until in use + kept fits the limit again.
  std::vector<PageBuffer> dropped;
  {
    std::lock_guard<std::mutex> lock(free_mu_);
    for (auto it = free_.begin();
         it != free_.end() && in_use() + free_bytes_ > limit_;) {
      while (!it->second.empty() && in_use() + free_bytes_ > limit_) {
        dropped.push_back(std::move(it->second.back()));
        it->second.pop_back();
        free_bytes_ -= it->first;
      }
      it = it->second.empty() ? free_.erase(it) : std::next(it);
    }
  }
  return PageBuffer::Allocate(capacity);
}

void ByteBudget::ReturnBuffer(PageBuffer buffer,
                              uint64_t capacity) {
  std::lock_guard<std::mutex> lock(free_mu_);
  // The buffer is still charged (see Chunk::~Chunk), so this keeps it only
  // while what is charged and what is kept fit the limit together.
  if (in_use() + free_bytes_ > limit_) return;  // freed here
  free_[capacity].push_back(std::move(buffer));
  free_bytes_ += capacity;
}

void ByteBudget::NotePeak(uint64_t now) {
  uint64_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak &&
         !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

}  // namespace ffm
