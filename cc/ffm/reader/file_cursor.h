// One open TFRecord file: its source, prefetcher, (inflating) stream and
// record parser, positioned at a record boundary.
#ifndef FFM_READER_FILE_CURSOR_H_
#define FFM_READER_FILE_CURSOR_H_

#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "ffm/io/byte_source.h"
#include "ffm/prefetch/byte_budget.h"
#include "ffm/prefetch/chunk_prefetcher.h"
#include "ffm/prefetch/executor.h"
#include "ffm/stream/byte_stream.h"
#include "ffm/stream/compression.h"
#include "ffm/tfrecord/record_reader.h"

namespace ffm {

// How a file's bytes are fetched: many ranged reads in flight (object
// stores, mounts) or one sequential read at a time (local disks).
enum class ParallelReads { kAuto, kAlways, kNever };

struct CursorOptions {
  Compression compression = Compression::kNone;
  bool verify_crc = true;
  PrefetchOptions prefetch;
  // kAuto asks the source (ByteSource::prefers_parallel_reads).
  ParallelReads parallel_reads = ParallelReads::kAuto;
};

class FileCursor {
 public:
  // Starts reading `source` at record boundary `position` (of the inflated
  // stream for compressed files: reaching it means inflating from the start).
  static absl::StatusOr<std::unique_ptr<FileCursor>> Open(
      std::unique_ptr<ByteSource> source, uint64_t position,
      const CursorOptions& options, Executor* executor,
      std::shared_ptr<ByteBudget> budget);

  absl::Status ReadRecord(absl::FunctionRef<char*(size_t)> allocate) {
    return records_->ReadRecord(allocate);
  }
  uint64_t position() const { return records_->position(); }
  // Reads not yet started end at once; a running one at its next attempt.
  void Cancel() { source_->Cancel(); }
  // See ChunkPrefetcher::Resume; nothing for files read sequentially.
  void ResumeReadahead() {
    if (prefetcher_ != nullptr) prefetcher_->Resume();
  }
  const std::string& uri() const { return source_->uri(); }

 private:
  FileCursor() = default;

  // Members are destroyed in reverse order: the parser, then the stream and
  // its prefetcher (whose reads use the source), then the source.
  std::unique_ptr<ByteSource> source_;
  std::unique_ptr<ByteStream> stream_;
  std::unique_ptr<RecordReader> records_;
  ChunkPrefetcher* prefetcher_ = nullptr;  // owned by stream_; null if none
};

}  // namespace ffm

#endif  // FFM_READER_FILE_CURSOR_H_
