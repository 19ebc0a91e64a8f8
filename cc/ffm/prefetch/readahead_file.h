// Random-access reads of one ByteSource that turn a run of sequential reads
// into parallel readahead: the first read that continues where the previous
// one ended starts a ChunkPrefetcher there, and later reads in sequence are
// served from its chunks; a read elsewhere goes straight to the source (one
// ranged GET), so random access costs no wasted readahead.
//
//   reads:   [0,256K) [256K,512K) [512K,768K) ...   [90M,90M+4K)
//             direct   prefetcher starts, serves    direct (a jump)
//
// For filesystems whose callers read through small buffers (TensorFlow's
// RandomAccessFile is read 256 KiB at a time by TFRecordDataset), where each
// read would otherwise wait for one request's latency.
//
// Thread-safe. A jump does not stop the prefetcher (another thread may be
// reading in sequence); a sequential read at another position restarts it.
#ifndef FFM_PREFETCH_READAHEAD_FILE_H_
#define FFM_PREFETCH_READAHEAD_FILE_H_

#include <cstdint>
#include <memory>
#include <mutex>

#include "absl/status/statusor.h"
#include "ffm/io/byte_source.h"
#include "ffm/prefetch/byte_budget.h"
#include "ffm/prefetch/chunk_prefetcher.h"
#include "ffm/prefetch/executor.h"

namespace ffm {

class ReadaheadFile {
 public:
  // `executor` runs the chunk reads and must outlive this file. Readahead
  // stays within `budget`, which files may share (the chunk a reader waits
  // for is always read).
  ReadaheadFile(std::unique_ptr<ByteSource> source,
                const PrefetchOptions& options, Executor* executor,
                std::shared_ptr<ByteBudget> budget);
  ~ReadaheadFile();
  ReadaheadFile(const ReadaheadFile&) = delete;
  ReadaheadFile& operator=(const ReadaheadFile&) = delete;

  const ByteSource& source() const { return *source_; }

  // Up to `n` bytes at `offset`; fewer only at the end of the source.
  absl::StatusOr<size_t> Read(uint64_t offset, size_t n, char* dst);

 private:
  // Copies what the current chunk holds at `offset` (0 if none).
  size_t CopyFromChunkLocked(uint64_t offset, size_t n, char* dst);

  const std::unique_ptr<ByteSource> source_;
  const PrefetchOptions options_;
  Executor* const executor_;
  const std::shared_ptr<ByteBudget> budget_;

  std::mutex mu_;
  std::unique_ptr<ChunkPrefetcher> prefetcher_;
  std::shared_ptr<const Chunk> chunk_;  // the last chunk taken from it
  uint64_t prefetch_next_ = 0;          // offset of its next chunk
  uint64_t last_end_ = 0;               // where the last read ended
};

}  // namespace ffm

#endif  // FFM_PREFETCH_READAHEAD_FILE_H_
