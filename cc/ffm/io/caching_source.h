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
#ifndef FFM_IO_CACHING_SOURCE_H_
#define FFM_IO_CACHING_SOURCE_H_

#include <atomic>
#include <memory>
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

 private:
  size_t BlockLength(uint64_t block) const;
  // Reads blocks [first, last] from the inner source and publishes them;
  // copies the part within [offset, offset + n) to dst.
  absl::Status Fetch(uint64_t first, uint64_t last, uint64_t offset, size_t n,
                     char* dst) const;

  const std::shared_ptr<BlockCache> cache_;
  const CacheKey key_;
  const uint64_t block_size_;
  mutable std::atomic<bool> cancelled_{false};
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
