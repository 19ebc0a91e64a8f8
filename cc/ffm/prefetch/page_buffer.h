// Chunk memory mapped from the kernel rather than taken from malloc.
//
// Two reasons. glibc keeps what its per-thread arenas freed (tf_ffm sets
// M_TOP_PAD so record strings are not written into fresh pages batch after
// batch), and chunk buffers, allocated on I/O threads, would be kept there
// too, after the iterator that used them is gone. And buffers of 2 MiB or
// more are marked for transparent huge pages (MADV_HUGEPAGE: the setting
// most distributions ship is "madvise"), so the first write into a fresh
// 8 MiB chunk can take 4 page faults instead of 2,048.
#ifndef FFM_PREFETCH_PAGE_BUFFER_H_
#define FFM_PREFETCH_PAGE_BUFFER_H_

#include <cstdint>

namespace ffm {

class PageBuffer {
 public:
  // Uninitialised (zero) pages, mapped lazily by the kernel; throws
  // std::bad_alloc when the mapping fails, as `new` would.
  static PageBuffer Allocate(uint64_t size);

  PageBuffer() = default;
  ~PageBuffer();
  PageBuffer(PageBuffer&& other) noexcept;
  PageBuffer& operator=(PageBuffer&& other) noexcept;
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;

  char* data() const { return data_; }
  uint64_t size() const { return size_; }
  explicit operator bool() const { return data_ != nullptr; }

 private:
  PageBuffer(char* data, uint64_t size) : data_(data), size_(size) {}
  void Unmap();

  char* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace ffm

#endif  // FFM_PREFETCH_PAGE_BUFFER_H_
