// A ByteSource that serves reads of a remote object from a local BlockCache
// (block_cache.h: layout, locking, verification, eviction) and fetches
// what is missing from the source it wraps, publishing it for later epochs
// and other processes.
//
//   ReadAt(offset, n):  blocks  |b0  |b1  |b2  |b3  |      (block_size each)
//                        wanted      [=============)
//                        cached         hit   miss miss
//                        fetched             [==========)  one inner read
//
// Consecutive missing blocks are fetched with one read of the inner source,
// so with the cache cold a prefetcher's 8 MiB chunk is still one request.
// Errors of the inner source are returned as they are; the cache itself
// never fails a read. Thread-safe, as every ByteSource.
//
// An object wholly in the cache when opened is read as a local file is
// (prefers_parallel_reads() false: one sequential reader, small reads),
// since that is what it now is. Reads smaller than a block are served from
// the last block verified, kept in memory (one block per source), so a
// block is read and checked once, not once per small read.
#ifndef FFM_IO_CACHING_SOURCE_H_
#define FFM_IO_CACHING_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "ffm/io/block_cache.h"
#include "ffm/io/forwarding_source.h"
#include "ffm/io/source_opener.h"

namespace ffm {

class CachingSource final : public ForwardingSource {
 public:
  // `identity` names the object's content (see CacheIdentity).
  CachingSource(std::unique_ptr<ByteSource> inner,
                std::shared_ptr<BlockCache> cache, std::string identity);

  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                char* dst) const override;
  void Cancel() const override;
  bool prefers_parallel_reads() const override {
    return !all_cached_ && ForwardingSource::prefers_parallel_reads();
  }
  bool streams_sequential_reads() const override {
    return !all_cached_ && ForwardingSource::streams_sequential_reads();
  }

 private:
  size_t BlockLength(uint64_t block) const;
  // Copies bytes [skip, skip + n) of `block` from the cache to dst; false on
  // a miss.
  bool ReadCached(uint64_t block, size_t skip, size_t n, char* dst) const;
  // Reads blocks [first, last] from the inner source and publishes them;
  // copies the part within [offset, offset + n) to dst.
  absl::Status Fetch(uint64_t first, uint64_t last, uint64_t offset, size_t n,
                     char* dst) const;

  const std::shared_ptr<BlockCache> cache_;
  const CacheKey key_;
  const uint64_t block_size_;
  const bool all_cached_;
  mutable std::atomic<bool> cancelled_{false};
  mutable std::mutex last_mu_;
  mutable uint64_t last_block_ = UINT64_MAX;  // guarded by last_mu_
  mutable std::string last_;                  // its bytes, verified

};

// "uri \n size \n version" for a source whose content can be told apart
// from a later one (an S3 ETag, a file mtime); "" if it cannot be, and such
// a source is not cached.
std::string CacheIdentity(const ByteSource& source);

// The Storage wrapper for `config` (see CacheConfig::mounts for what is
// cached), or nullptr if no cache is configured.
SourceWrapper MakeCacheWrapper(const CacheConfig& config);

}  // namespace ffm

#endif  // FFM_IO_CACHING_SOURCE_H_
