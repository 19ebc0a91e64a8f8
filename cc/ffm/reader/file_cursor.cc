#include "ffm/reader/file_cursor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ffm/stream/chunk_stream.h"
#include "ffm/stream/zlib_stream.h"

namespace ffm {

absl::StatusOr<std::unique_ptr<FileCursor>> FileCursor::Open(
    std::unique_ptr<ByteSource> source, uint64_t position,
    const CursorOptions& options, Executor* executor,
    std::shared_ptr<ByteBudget> budget) {
  std::unique_ptr<FileCursor> cursor(new FileCursor());
  cursor->source_ = std::move(source);
  const bool compressed = options.compression != Compression::kNone;
  if (!compressed && position > cursor->source_->size()) {
    return absl::DataLossError(absl::StrCat(
        cursor->source_->uri(), ": checkpointed byte offset ", position,
        " is past the end of the file (", cursor->source_->size(),
        " bytes); has the file changed?"));
  }
  const uint64_t begin = compressed ? 0 : position;
  const bool parallel =
      options.parallel_reads == ParallelReads::kAlways ||
      (options.parallel_reads == ParallelReads::kAuto &&
       cursor->source_->prefers_parallel_reads());
  PrefetchOptions prefetch = options.prefetch;
  if (!parallel) {
    prefetch.chunk_size = prefetch.first_chunk_size = defaults::kLocalReadSize;
    executor = nullptr;  // read in Next(), on the consumer's thread
  } else if (cursor->source_->streams_sequential_reads() &&
             prefetch.run_size == 0) {
    prefetch.run_size = defaults::kMountRunSize;
    prefetch.max_in_flight =
        std::min(prefetch.max_in_flight, defaults::kMountStreams);
  }
  auto prefetcher = std::make_unique<ChunkPrefetcher>(
      cursor->source_.get(), begin, prefetch, executor, std::move(budget));
  if (executor != nullptr) cursor->prefetcher_ = prefetcher.get();
  auto chunks = std::make_unique<ChunkStream>(std::move(prefetcher), begin);
  if (compressed) {
    auto inflated = std::make_unique<ZlibStream>(
        std::move(chunks), options.compression, cursor->source_->uri());
    if (position > 0) {
      absl::Status s = inflated->Skip(position);
      if (!s.ok()) return s;
    }
    cursor->stream_ = std::move(inflated);
  } else {
    cursor->stream_ = std::move(chunks);
  }
  cursor->records_ = std::make_unique<RecordReader>(
      cursor->stream_.get(), cursor->source_->uri(), options.verify_crc);
  return cursor;
}

}  // namespace ffm
