// ByteSource over a local or mounted (FUSE, e.g. SageMaker Fast File Mode)
// file, read with pread(2) so concurrent reads need no locking.
#ifndef FFM_IO_POSIX_SOURCE_H_
#define FFM_IO_POSIX_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ffm/io/byte_source.h"

namespace ffm {

class PosixSource final : public ByteSource {
 public:
  // NotFound for a missing path, InvalidArgument for a directory,
  // PermissionDenied where the file may not be read.
  static absl::StatusOr<std::unique_ptr<ByteSource>> Open(
      const std::string& path);
  ~PosixSource() override;

  const std::string& uri() const override { return path_; }
  uint64_t size() const override { return size_; }
  int64_t mtime_ns() const override { return mtime_ns_; }
  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                char* dst) const override;

 private:
  PosixSource(std::string path, int fd, uint64_t size, int64_t mtime_ns)
      : path_(std::move(path)), fd_(fd), size_(size), mtime_ns_(mtime_ns) {}
  const std::string path_;
  const int fd_;
  const uint64_t size_;
  const int64_t mtime_ns_;
};

}  // namespace ffm

#endif  // FFM_IO_POSIX_SOURCE_H_
