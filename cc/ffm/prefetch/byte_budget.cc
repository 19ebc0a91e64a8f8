#include "ffm/prefetch/byte_budget.h"

namespace ffm {

bool ByteBudget::TryAcquire(uint64_t n) {
  uint64_t cur = in_use_.load(std::memory_order_relaxed);
  do {
    if (cur + n > limit_) return false;
  } while (!in_use_.compare_exchange_weak(cur, cur + n,
                                          std::memory_order_relaxed));
  NotePeak(cur + n);
  return true;
}

void ByteBudget::ForceAcquire(uint64_t n) {
  NotePeak(in_use_.fetch_add(n, std::memory_order_relaxed) + n);
}

void ByteBudget::Release(uint64_t n) {
  in_use_.fetch_sub(n, std::memory_order_relaxed);
}

void ByteBudget::NotePeak(uint64_t now) {
  uint64_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak &&
         !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

}  // namespace ffm
