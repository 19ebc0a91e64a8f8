// ByteStream that inflates a GZIP or ZLIB file read through a ChunkStream, so
// compressed bytes are still prefetched in parallel while inflating runs on
// the consumer thread. Concatenated gzip members are read as one stream, as
// TensorFlow's reader does.
#ifndef FFM_STREAM_ZLIB_STREAM_H_
#define FFM_STREAM_ZLIB_STREAM_H_

#include <zlib.h>

#include <memory>
#include <string>

#include "ffm/stream/byte_stream.h"
#include "ffm/stream/chunk_stream.h"
#include "ffm/stream/compression.h"

namespace ffm {

class ZlibStream final : public ByteStream {
 public:
  // `uri` names the file in errors.
  ZlibStream(std::unique_ptr<ChunkStream> compressed, Compression format,
             std::string uri);
  ~ZlibStream() override;
  ZlibStream(const ZlibStream&) = delete;
  ZlibStream& operator=(const ZlibStream&) = delete;

  absl::StatusOr<size_t> Read(size_t n, char* dst) override;
  uint64_t position() const override { return position_; }
  uint64_t max_remaining() const override;
  absl::Status Skip(uint64_t n) override;

 private:
  absl::Status Fail(absl::string_view what);

  std::unique_ptr<ChunkStream> compressed_;
  const std::string uri_;
  z_stream zs_{};
  bool initialised_ = false;
  bool at_member_end_ = false;  // Z_STREAM_END seen, no input after it yet
  uint64_t position_ = 0;
  absl::Status error_;
};

}  // namespace ffm

#endif  // FFM_STREAM_ZLIB_STREAM_H_
