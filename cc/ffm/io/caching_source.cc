#include "ffm/io/caching_source.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ffm/io/io_stats.h"
#include "ffm/io/storage.h"

namespace ffm {

CachingSource::CachingSource(std::unique_ptr<ByteSource> inner,
                             std::shared_ptr<BlockCache> cache,
                             std::string identity)
    : ForwardingSource(std::move(inner)),
      cache_(std::move(cache)),
      key_(std::move(identity)),
      block_size_(cache_->config().block_size),
      all_cached_([this] {
        // One stat per block, when opened: ~1 ms for a 512 MiB object.
        const uint64_t blocks = (size() + block_size_ - 1) / block_size_;
        for (uint64_t b = 0; b < blocks; ++b) {
          if (!cache_->Contains(key_, b, BlockLength(b))) return false;
        }
        return true;
      }()) {}

bool CachingSource::ReadCached(uint64_t block, size_t skip, size_t n,
                               char* dst) const {
  const size_t length = BlockLength(block);
  if (skip == 0 && n == length) return cache_->Read(key_, block, length, dst);
  {
    std::lock_guard<std::mutex> lock(last_mu_);
    if (last_block_ == block) {
      std::memcpy(dst, last_.data() + skip, n);
      return true;
    }
  }
  std::string bytes(length, '\0');
  if (!cache_->Read(key_, block, length, bytes.data())) return false;
  std::memcpy(dst, bytes.data() + skip, n);
  std::lock_guard<std::mutex> lock(last_mu_);
  last_block_ = block;
  last_ = std::move(bytes);
  return true;
}

size_t CachingSource::BlockLength(uint64_t block) const {
  return static_cast<size_t>(
      std::min<uint64_t>(block_size_, size() - block * block_size_));
}

absl::StatusOr<size_t> CachingSource::ReadAt(uint64_t offset, size_t n,
                                             char* dst) const {
  if (offset >= size() || n == 0) return size_t{0};
  n = static_cast<size_t>(std::min<uint64_t>(n, size() - offset));
  const uint64_t first = offset / block_size_;
  const uint64_t last = (offset + n - 1) / block_size_;

  // Serves the cached blocks of [from, to]; returns the missing ones.
  auto serve = [&](uint64_t from, uint64_t to) {
    std::vector<uint64_t> missing;
    for (uint64_t b = from; b <= to; ++b) {
      const uint64_t lo = std::max(offset, b * block_size_);
      const uint64_t hi = std::min(offset + n, b * block_size_ + BlockLength(b));
      if (ReadCached(b, lo - b * block_size_, hi - lo, dst + (lo - offset))) {
        Count(IoStats::Global().cache_hits);
        Count(IoStats::Global().cache_hit_bytes, hi - lo);
      } else {
        missing.push_back(b);
      }
    }
    return missing;
  };
  // Calls fetch(a, b) for each run of consecutive blocks in `blocks`.
  auto for_each_run = [](const std::vector<uint64_t>& blocks, auto fetch) {
    absl::Status s;
    for (size_t i = 0; i < blocks.size() && s.ok();) {
      size_t j = i;
      while (j + 1 < blocks.size() && blocks[j + 1] == blocks[j] + 1) ++j;
      s = fetch(blocks[i], blocks[j]);
      i = j + 1;
    }
    return s;
  };

  absl::Status s = for_each_run(serve(first, last), [&](uint64_t a, uint64_t b) {
    BlockCache::RangeLock lock(*cache_, key_, a, b, &cancelled_);
    // Another reader may have published them since we looked, while we
    // waited or just before: look again (a miss costs one failed open).
    return for_each_run(serve(a, b), [&](uint64_t c, uint64_t d) {
      return Fetch(c, d, offset, n, dst);
    });
  });
  if (!s.ok()) return s;
  return n;
}

absl::Status CachingSource::Fetch(uint64_t first, uint64_t last,
                                  uint64_t offset, size_t n, char* dst) const {
  Count(IoStats::Global().cache_misses, last - first + 1);
  const uint64_t begin = first * block_size_;
  const uint64_t end = last * block_size_ + BlockLength(last);
  // Straight into the caller's buffer when the blocks lie within it (the
  // prefetcher's aligned chunks); otherwise through a buffer of their own.
  const bool inside = begin >= offset && end <= offset + n;
  std::string scratch(inside ? 0 : end - begin, '\0');
  char* buf = inside ? dst + (begin - offset) : scratch.data();
  absl::StatusOr<size_t> got = inner().ReadAt(begin, end - begin, buf);
  if (!got.ok()) return got.status();
  // Only whole blocks are published (a short read means the object changed
  // under us: nothing of it is kept).
  if (*got == end - begin) {
    for (uint64_t b = first; b <= last; ++b) {
      cache_->Write(key_, b,
                    absl::string_view(buf + (b - first) * block_size_,
                                      BlockLength(b)));
    }
  }
  if (!inside) {
    const uint64_t lo = std::max(offset, begin);
    const uint64_t hi = std::min<uint64_t>({offset + n, end, begin + *got});
    if (hi > lo) std::memcpy(dst + (lo - offset), buf + (lo - begin), hi - lo);
  }
  if (*got < end - begin) {
    return absl::DataLossError(absl::StrCat(
        uri(), ": read of bytes [", begin, ", ", end, ") returned ", *got,
        " bytes; the object is shorter than when it was opened"));
  }
  return absl::OkStatus();
}

void CachingSource::Cancel() const {
  cancelled_.store(true, std::memory_order_relaxed);
  ForwardingSource::Cancel();
}

std::string CacheIdentity(const ByteSource& source) {
  std::string version = source.version();
  if (version.empty() && source.mtime_ns() != 0) {
    version = absl::StrCat("mtime_ns=", source.mtime_ns());
  }
  if (version.empty()) return "";
  return absl::StrCat(source.uri(), "\n", source.size(), "\n", version);
}

SourceWrapper MakeCacheWrapper(const CacheConfig& config) {
  if (!config.enabled()) return nullptr;
  std::shared_ptr<BlockCache> cache = BlockCache::Shared(config);
  // `mounts` is this Storage's choice; the shared cache may have been made
  // for another.
  return [cache, mounts = config.mounts](
             std::unique_ptr<ByteSource> inner) -> std::unique_ptr<ByteSource> {
    // Local disks are as fast as the cache; mounts only when asked.
    const bool remote = !Storage::SchemeOf(inner->uri()).empty();
    const bool wanted = remote || (mounts && inner->prefers_parallel_reads());
    std::string identity = wanted ? CacheIdentity(*inner) : "";
    if (identity.empty()) return inner;
    return std::make_unique<CachingSource>(std::move(inner), cache,
                                           std::move(identity));
  };
}

}  // namespace ffm
