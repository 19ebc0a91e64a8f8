// ByteStream over the chunks of a ChunkPrefetcher: copies out of the current
// chunk and moves to the next one when it is used up, so records may span any
// number of chunk boundaries.
#ifndef FFM_STREAM_CHUNK_STREAM_H_
#define FFM_STREAM_CHUNK_STREAM_H_

#include <memory>

#include "absl/strings/string_view.h"
#include "ffm/prefetch/chunk_prefetcher.h"
#include "ffm/stream/byte_stream.h"

namespace ffm {

class ChunkStream final : public ByteStream {
 public:
  // Reads from `begin` (where `prefetcher` starts) to the end of the file.
  ChunkStream(std::unique_ptr<ChunkPrefetcher> prefetcher, uint64_t begin);

  absl::StatusOr<size_t> Read(size_t n, char* dst) override;
  uint64_t position() const override { return position_; }
  uint64_t max_remaining() const override { return end_ - position_; }
  absl::Status Skip(uint64_t n) override;

  // For decompressors: the unread bytes of the current chunk (fetching the
  // next chunk if it is used up); empty at the end of the file. Consume()
  // marks bytes of it as read.
  absl::StatusOr<absl::string_view> Peek();
  void Consume(size_t n);

 private:
  std::unique_ptr<ChunkPrefetcher> prefetcher_;
  const uint64_t end_;
  uint64_t position_;
  std::shared_ptr<const Chunk> chunk_;
  absl::string_view unread_;  // of chunk_
};

}  // namespace ffm

#endif  // FFM_STREAM_CHUNK_STREAM_H_
