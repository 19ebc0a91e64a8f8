// Where and how much to cache remote bytes on local disk (see
// block_cache.h): the "cache." storage options over the environment.
//
//   TF_FFM_CACHE_DIR=/opt/ml/cache TF_FFM_CACHE_SIZE=200G   (environment)
//   "cache.dir=/nvme/c;cache.size=53687091200;cache.mounts=true"  (options)
//
// Options win over the environment. No directory, no cache.
#ifndef FFM_IO_CACHE_CONFIG_H_
#define FFM_IO_CACHE_CONFIG_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ffm {

struct CacheConfig {
  std::string dir;                      // empty: no cache
  uint64_t max_bytes = 10ull << 30;     // entries above this are evicted
  // Entries are whole blocks at multiples of this: the prefetcher's 1 MiB
  // first read and its 1, 2, 4, 8 MiB runs all start and end on one, so a
  // later read of any size and alignment is served from whole entries.
  uint64_t block_size = 1ull << 20;
  // Also cache POSIX paths on FUSE and network mounts (Fast File Mode);
  // s3:// objects are always cached and local disks never.
  bool mounts = false;
  // How long a read waits for another thread or process fetching the same
  // blocks before fetching them itself.
  absl::Duration lock_wait = absl::Seconds(30);

  bool enabled() const { return !dir.empty(); }

  // TF_FFM_CACHE_DIR, TF_FFM_CACHE_SIZE (bytes, or with a K/M/G/T suffix),
  // then `settings` ("key=value;..."): dir, size, block_size, mounts,
  // lock_wait (seconds). InvalidArgument for an unknown key or bad value.
  using Getenv = std::function<const char*(const char*)>;
  static absl::StatusOr<CacheConfig> Make(const std::string& settings,
                                          const Getenv& getenv);
  static absl::StatusOr<CacheConfig> Make(const std::string& settings);
};

// "1048576", "512K", "200G" (binary units) -> bytes; InvalidArgument naming
// `what` otherwise.
absl::StatusOr<uint64_t> ParseByteSize(const std::string& what,
                                       const std::string& text);

}  // namespace ffm

#endif  // FFM_IO_CACHE_CONFIG_H_
