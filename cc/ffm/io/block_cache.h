// A directory of cached blocks of remote objects, shared by every thread and
// process on a host that opens it (one per GPU, tf.data service workers),
// bounded in size and safe against crashes and corruption. CachingSource
// (caching_source.h) reads through it; `tf-ffm cache` inspects and clears it.
//
// Layout (version 1):
//
//   DIR/ffm-cache-v1/
//     lock                       byte-range locks: one range per object
//     tmp/<name>.<pid>.<n>       entries being written
//     data/<hh>/<hash>_<block>   one entry per block of an object
//
// An object is named by its identity "uri \n size \n version" (version: the
// S3 ETag and Last-Modified, or a file's mtime), hashed to 64 bits for the
// file name. The full identity is stored in the entry and compared on every
// hit, so a changed object is never served stale and a hash collision is
// only a miss.
//
// Entry (little-endian):
//
//   0      8      12         16            24            32
//   | magic | crc | id_len   | block       | payload_len | identity | payload |
//                 \____________________ crc32c covers ______________________/
//
// Blocks: fixed size (CacheConfig::block_size, 1 MiB), the last one shorter.
//   Every read is served from whole blocks, so later reads of any size and
//   alignment hit; the prefetcher's reads fall on block boundaries.
// Publish: written to tmp/, then renamed into data/: readers see a whole
//   entry or none. No fsync: after a power loss a torn entry fails its
//   checksum and is fetched again, which is cheaper than an fsync per block.
// Verification: the checksum is checked on every hit; an entry that is
//   short, long, for another identity or block, or fails its checksum is
//   deleted and reported as a miss, never returned.
// One fetch at a time: a reader that misses locks the range of its blocks in
//   `lock` (Linux open-file-description locks: per open file, so threads of
//   one process exclude each other too, and released by the kernel when a
//   holder dies). It polls for at most CacheConfig::lock_wait, then fetches
//   on its own: a stuck holder delays others, never hangs them.
// LRU across processes: a hit sets the entry's mtime (at most once a
//   second); eviction deletes the oldest entries until the directory is at
//   90% of max_bytes. Each process keeps an estimate of the directory's size
//   (a scan when it opens the cache, plus what it writes) and scans again
//   when the estimate exceeds max_bytes or it has written 1/16 of it since
//   the last scan, so processes sharing a directory overshoot by at most
//   about 1/16 of max_bytes each.
// Failures never fail a read: a cache directory that cannot be written
//   (full, read-only, missing permissions) makes writes fail, counted in
//   IoStats::cache_errors, and the bytes fetched are returned as usual.
//
// Thread-safe.
#ifndef FFM_IO_BLOCK_CACHE_H_
#define FFM_IO_BLOCK_CACHE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ffm/io/cache_config.h"

namespace ffm {

// One object's identity and its name in the cache.
struct CacheKey {
  std::string identity;
  uint64_t hash = 0;

  explicit CacheKey(std::string identity);
};

class BlockCache {
 public:
  // The process's cache for config.dir (one per directory and size, so its
  // size estimate covers every reader); config.mounts is not its concern. Never fails: a directory that cannot be
  // made only fails the writes.
  static std::shared_ptr<BlockCache> Shared(const CacheConfig& config);

  explicit BlockCache(const CacheConfig& config);

  const CacheConfig& config() const { return config_; }

  // Reads `block` (payload_len bytes long) into `dst` if a valid entry is
  // there; false on a miss (a bad entry is deleted and counted as corrupt,
  // and `dst` may hold part of it).
  bool Read(const CacheKey& key, uint64_t block, size_t payload_len,
            char* dst) const;

  // Whether an entry of the right size is there (not verified: a later
  // Read may still miss).
  bool Contains(const CacheKey& key, uint64_t block, size_t payload_len) const;

  // Publishes `payload` as `block`; a failure is counted, not returned.
  void Write(const CacheKey& key, uint64_t block, absl::string_view payload);

  // Holds the cross-process lock on blocks [first, last] of `key` for its
  // lifetime, or nothing if it could not be taken in time; the caller looks
  // for the blocks again once it holds it.
  class RangeLock {
   public:
    RangeLock(const BlockCache& cache, const CacheKey& key, uint64_t first,
              uint64_t last, const std::atomic<bool>* cancelled);
    ~RangeLock();
    RangeLock(const RangeLock&) = delete;
    RangeLock& operator=(const RangeLock&) = delete;

   private:
    int fd_ = -1;
  };

  // What a cache directory holds, for `tf-ffm cache`.
  struct DirInfo {
    uint64_t entries = 0;
    uint64_t bytes = 0;
    uint64_t temp_files = 0;
  };
  static absl::StatusOr<DirInfo> Inspect(const std::string& dir);
  // Deletes every entry and temporary file; returns the bytes freed.
  static absl::StatusOr<uint64_t> Clear(const std::string& dir);

 private:
  std::string EntryPath(const CacheKey& key, uint64_t block) const;
  // Scans the directory, evicting oldest entries above the limit.
  void ScanAndEvict();

  const CacheConfig config_;
  const std::string root_;  // DIR/ffm-cache-v1
  std::atomic<uint64_t> estimate_{0};
  std::atomic<uint64_t> written_since_scan_{0};
  std::atomic<uint64_t> temp_counter_{0};
  std::mutex scan_mu_;
  std::once_flag first_scan_;
};

}  // namespace ffm

#endif  // FFM_IO_BLOCK_CACHE_H_
