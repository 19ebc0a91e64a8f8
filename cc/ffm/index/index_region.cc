#include "ffm/index/index_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "ffm/io/errors.h"

namespace ffm {

namespace {

class Owned final : public IndexRegion {
 public:
  explicit Owned(std::string bytes) : bytes_(std::move(bytes)) {}
  absl::string_view bytes() const override { return bytes_; }

 private:
  const std::string bytes_;
};

class Mapped final : public IndexRegion {
 public:
  Mapped(void* addr, size_t size) : addr_(addr), size_(size) {}
  ~Mapped() override {
    if (size_ > 0) munmap(addr_, size_);
  }
  absl::string_view bytes() const override {
    return {static_cast<const char*>(addr_), size_};
  }

 private:
  void* const addr_;
  const size_t size_;
};

}  // namespace

std::shared_ptr<const IndexRegion> OwnedRegion(std::string bytes) {
  return std::make_shared<Owned>(std::move(bytes));
}

absl::StatusOr<std::shared_ptr<const IndexRegion>> MapRegion(
    const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat(path, ": open failed"));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return ErrnoToStatus(e, absl::StrCat(path, ": fstat failed"));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* addr = nullptr;
  if (size > 0) {
    addr = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) {
      int e = errno;
      close(fd);
      return ErrnoToStatus(e, absl::StrCat(path, ": mmap failed"));
    }
    // Located records are scattered: read ahead no further than a page.
    madvise(addr, size, MADV_RANDOM);
  }
  close(fd);  // the mapping keeps the file
  return std::make_shared<Mapped>(addr, size);
}

}  // namespace ffm
