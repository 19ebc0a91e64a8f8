// A ByteSource that passes every call to the source it wraps: the base for
// sources that add a layer (a local cache, accounting) and override only
// what they change.
#ifndef FFM_IO_FORWARDING_SOURCE_H_
#define FFM_IO_FORWARDING_SOURCE_H_

#include <memory>
#include <string>

#include "ffm/io/byte_source.h"

namespace ffm {

class ForwardingSource : public ByteSource {
 public:
  explicit ForwardingSource(std::unique_ptr<ByteSource> inner)
      : inner_(std::move(inner)) {}

  const std::string& uri() const override { return inner_->uri(); }
  uint64_t size() const override { return inner_->size(); }
  int64_t mtime_ns() const override { return inner_->mtime_ns(); }
  std::string version() const override { return inner_->version(); }
  bool prefers_parallel_reads() const override {
    return inner_->prefers_parallel_reads();
  }
  bool streams_sequential_reads() const override {
    return inner_->streams_sequential_reads();
  }
  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                char* dst) const override {
    return inner_->ReadAt(offset, n, dst);
  }
  void Cancel() const override { inner_->Cancel(); }

 protected:
  const ByteSource& inner() const { return *inner_; }

 private:
  const std::unique_ptr<ByteSource> inner_;
};

}  // namespace ffm

#endif  // FFM_IO_FORWARDING_SOURCE_H_
