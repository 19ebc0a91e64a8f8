#include "ffm/prefetch/page_buffer.h"

#include <sys/mman.h>

#include <new>
#include <utility>

namespace ffm {
namespace {

constexpr uint64_t kHugePageSize = 2 << 20;

}  // namespace

PageBuffer PageBuffer::Allocate(uint64_t size) {
  if (size == 0) return PageBuffer();
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  // Advice only: refused (no THP in this kernel), the pages stay 4 KiB.
  if (size >= kHugePageSize) (void)madvise(p, size, MADV_HUGEPAGE);
#endif
  return PageBuffer(static_cast<char*>(p), size);
}

PageBuffer::~PageBuffer() { Unmap(); }

PageBuffer::PageBuffer(PageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

PageBuffer& PageBuffer::operator=(PageBuffer&& other) noexcept {
  if (this != &other) {
    Unmap();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void PageBuffer::Unmap() {
  if (data_ != nullptr) munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace ffm
