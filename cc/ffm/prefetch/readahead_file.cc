#include "ffm/prefetch/readahead_file.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace ffm {

ReadaheadFile::ReadaheadFile(std::unique_ptr<ByteSource> source,
                             const PrefetchOptions& options, Executor* executor,
                             std::shared_ptr<ByteBudget> budget)
    : source_(std::move(source)), options_(options), executor_(executor),
      budget_(std::move(budget)) {}

ReadaheadFile::~ReadaheadFile() {
  // Queued reads end at once instead of fetching bytes nobody will read;
  // the prefetcher (waiting for running reads) goes before the source.
  source_->Cancel();
  std::lock_guard<std::mutex> lock(mu_);
  prefetcher_.reset();
  chunk_.reset();
}

size_t ReadaheadFile::CopyFromChunkLocked(uint64_t offset, size_t n, char* dst) {
  if (chunk_ == nullptr) return 0;
  const uint64_t begin = chunk_->offset();
  const uint64_t end = begin + chunk_->data().size();
  if (offset < begin || offset >= end) return 0;
  const size_t take = static_cast<size_t>(std::min<uint64_t>(n, end - offset));
  std::memcpy(dst, chunk_->data().data() + (offset - begin), take);
  return take;
}

absl::StatusOr<size_t> ReadaheadFile::Read(uint64_t offset, size_t n,
                                           char* dst) {
  const uint64_t size = source_->size();
  if (offset >= size || n == 0) return size_t{0};
  n = static_cast<size_t>(std::min<uint64_t>(n, size - offset));
  std::unique_lock<std::mutex> lock(mu_);
  size_t done = CopyFromChunkLocked(offset, n, dst);
  if (done == 0 && offset != last_end_) {
    last_end_ = offset + n;
    lock.unlock();
    return source_->ReadAt(offset, n, dst);  // a jump: no readahead
  }
  while (done < n) {
    const uint64_t at = offset + done;
    size_t got = CopyFromChunkLocked(at, n - done, dst + done);
    if (got > 0) {
      done += got;
      continue;
    }
    if (prefetcher_ == nullptr || prefetch_next_ != at) {
      chunk_.reset();
      prefetcher_.reset();
      prefetcher_ = std::make_unique<ChunkPrefetcher>(source_.get(), at,
                                                      options_, executor_,
                                                      budget_);
      prefetch_next_ = at;
    }
    absl::StatusOr<std::shared_ptr<const Chunk>> next = prefetcher_->Next();
    if (!next.ok()) {
      prefetcher_.reset();  // a later read starts afresh (and retries)
      chunk_.reset();
      return next.status();
    }
    chunk_ = *std::move(next);
    prefetch_next_ = chunk_->offset() + chunk_->data().size();
    if (chunk_->data().empty()) break;  // the source ended early
  }
  last_end_ = offset + done;
  return done;
}

}  // namespace ffm
