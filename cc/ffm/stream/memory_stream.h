// ByteStream over bytes already in memory (a ranged read holding whole
// records), positioned as if the bytes sat at `base` in their file, so the
// parser's errors carry file offsets.
#ifndef FFM_STREAM_MEMORY_STREAM_H_
#define FFM_STREAM_MEMORY_STREAM_H_

#include <algorithm>
#include <cstring>

#include "absl/strings/string_view.h"
#include "ffm/stream/byte_stream.h"

namespace ffm {

class MemoryStream final : public ByteStream {
 public:
  MemoryStream(absl::string_view bytes, uint64_t base)
      : bytes_(bytes), base_(base) {}

  absl::StatusOr<size_t> Read(size_t n, char* dst) override {
    size_t take = std::min(n, bytes_.size() - pos_);
    std::memcpy(dst, bytes_.data() + pos_, take);
    pos_ += take;
    return take;
  }
  uint64_t position() const override { return base_ + pos_; }
  uint64_t max_remaining() const override { return bytes_.size() - pos_; }
  absl::Status Skip(uint64_t n) override {
    if (n > bytes_.size() - pos_) {
      return absl::DataLossError("skip past the end of a buffered range");
    }
    pos_ += n;
    return absl::OkStatus();
  }
  // Repositions at file offset `offset` (within the buffered range).
  void Seek(uint64_t offset) { pos_ = static_cast<size_t>(offset - base_); }

 private:
  const absl::string_view bytes_;
  const uint64_t base_;
  size_t pos_ = 0;
};

}  // namespace ffm

#endif  // FFM_STREAM_MEMORY_STREAM_H_
