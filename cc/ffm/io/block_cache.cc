#include "ffm/io/block_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>
#include <vector>

#include "absl/base/internal/endian.h"
#include "absl/crc/crc32c.h"
#include "absl/crc/internal/crc32c_inline.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "ffm/io/errors.h"
#include "ffm/io/fd_io.h"
#include "ffm/io/io_stats.h"

namespace ffm {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'F', 'F', 'M', 'C', 'A', 'C', 'H', '1'};
constexpr size_t kHeaderSize = 32;
constexpr char kRootName[] = "ffm-cache-v1";
// Lock ranges: 2^24 blocks per object (16 TiB at 1 MiB), objects spread by
// 38 bits of their hash; two objects sharing a range only take turns.
constexpr int kBlockBits = 24;
constexpr uint64_t kObjectMask = (1ull << 38) - 1;
// A temporary file this old was left by a writer that died.
constexpr auto kStaleTemp = std::chrono::hours(1);

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  const int fd_;
};

// The entry's header and identity: the bytes before the payload.
std::string EntryHead(const CacheKey& key, uint64_t block, size_t payload_len) {
  std::string head(kHeaderSize, '\0');
  std::memcpy(head.data(), kMagic, sizeof(kMagic));
  absl::little_endian::Store32(head.data() + 12,
                               static_cast<uint32_t>(key.identity.size()));
  absl::little_endian::Store64(head.data() + 16, block);
  absl::little_endian::Store64(head.data() + 24, payload_len);
  head += key.identity;
  return head;
}

// absl's inline path: the CRC32 instruction (TensorFlow's absl library was
// built without it; see tfrecord/format.h). Checked on every hit, so speed
// matters.
uint32_t ExtendCrc(uint32_t crc, absl::string_view bytes) {
  if (absl::crc_internal::ExtendCrc32cInline(&crc, bytes.data(), bytes.size())) {
    return crc;
  }
  return static_cast<uint32_t>(absl::ExtendCrc32c(absl::crc32c_t{crc}, bytes));
}

uint32_t EntryCrc(absl::string_view head, absl::string_view payload) {
  return ExtendCrc(ExtendCrc(0, head.substr(12)), payload);
}

struct Entry {
  fs::file_time_type mtime;
  uint64_t size;
  fs::path path;
};

// Appends the files directly in `dir`; unreadable ones are skipped
// (another process may be deleting them).
void AddFiles(const fs::path& dir, std::vector<Entry>* out) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code stat_ec;
    uint64_t size = it->file_size(stat_ec);
    fs::file_time_type mtime = it->last_write_time(stat_ec);
    if (!stat_ec) out->push_back({mtime, size, it->path()});
  }
}

// Every entry under root/data.
std::vector<Entry> ListEntries(const fs::path& root) {
  std::vector<Entry> out;
  std::error_code ec;
  for (fs::directory_iterator shard(root / "data", ec), end; !ec && shard != end;
       shard.increment(ec)) {
    AddFiles(shard->path(), &out);
  }
  return out;
}

std::vector<Entry> ListTemps(const fs::path& root) {
  std::vector<Entry> out;
  AddFiles(root / "tmp", &out);
  return out;
}

}  // namespace

CacheKey::CacheKey(std::string id) : identity(std::move(id)) {
  // Two independent 32-bit halves: the crc of the identity and of it
  // reversed (a crc of the identity plus a suffix would follow from the
  // first). Collisions only cost a miss: the identity is compared on a hit.
  std::string reversed(identity.rbegin(), identity.rend());
  hash = (uint64_t{ExtendCrc(0, identity)} << 32) | ExtendCrc(0, reversed);
}

std::shared_ptr<BlockCache> BlockCache::Shared(const CacheConfig& config) {
  static std::mutex* mu = new std::mutex;
  static auto* caches = new std::map<std::string, std::shared_ptr<BlockCache>>;
  const std::string id =
      absl::StrCat(config.dir, "|", config.max_bytes, "|", config.block_size,
                   "|", absl::ToDoubleSeconds(config.lock_wait));
  std::lock_guard<std::mutex> lock(*mu);
  std::shared_ptr<BlockCache>& cache = (*caches)[id];
  if (cache == nullptr) cache = std::make_shared<BlockCache>(config);
  return cache;
}

BlockCache::BlockCache(const CacheConfig& config)
    : config_(config), root_((fs::path(config.dir) / kRootName).string()) {
  std::error_code ec;  // a failure here only makes writes fail later
  fs::create_directories(fs::path(root_) / "tmp", ec);
  fs::create_directories(fs::path(root_) / "data", ec);
}

std::string BlockCache::EntryPath(const CacheKey& key, uint64_t block) const {
  return absl::StrFormat("%s/data/%02x/%016x_%d", root_, key.hash >> 56,
                         key.hash, block);
}

bool BlockCache::Contains(const CacheKey& key, uint64_t block,
                          size_t payload_len) const {
  struct stat st;
  return stat(EntryPath(key, block).c_str(), &st) == 0 &&
         static_cast<uint64_t>(st.st_size) ==
             kHeaderSize + key.identity.size() + payload_len;
}

bool BlockCache::Read(const CacheKey& key, uint64_t block, size_t payload_len,
                      char* dst) const {
  const std::string path = EntryPath(key, block);
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return false;
  const std::string expected_head = EntryHead(key, block, payload_len);
  struct stat st;
  std::string head(expected_head.size(), '\0');
  bool good = fstat(fd.get(), &st) == 0 &&
              static_cast<uint64_t>(st.st_size) == head.size() + payload_len &&
              PreadFull(fd.get(), head.data(), head.size(), 0) &&
              std::memcmp(head.data(), expected_head.data(), 8) == 0 &&
              std::memcmp(head.data() + 12, expected_head.data() + 12,
                          head.size() - 12) == 0;
  good = good && PreadFull(fd.get(), dst, payload_len, head.size()) &&
         absl::little_endian::Load32(head.data() + 8) ==
             EntryCrc(head, absl::string_view(dst, payload_len));
  if (!good) {
    unlink(path.c_str());  // fetched and written again by the caller
    Count(IoStats::Global().cache_corrupt);
    return false;
  }
  // Recently used: the mtime orders eviction (atime may be off or lazy).
  if (time(nullptr) - st.st_mtime >= 1) futimens(fd.get(), nullptr);
  return true;
}

void BlockCache::Write(const CacheKey& key, uint64_t block,
                       absl::string_view payload) {
  std::string head = EntryHead(key, block, payload.size());
  const uint64_t entry_size = head.size() + payload.size();
  if (entry_size > config_.max_bytes) return;  // could never stay
  std::call_once(first_scan_, [this] { ScanAndEvict(); });
  absl::little_endian::Store32(head.data() + 8, EntryCrc(head, payload));

  const std::string path = EntryPath(key, block);
  const std::string tmp =
      absl::StrCat(root_, "/tmp/", path.substr(path.rfind('/') + 1), ".",
                   getpid(), ".", temp_counter_.fetch_add(1));
  bool good = false;
  {
    Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    good = fd.get() >= 0 && WriteFull(fd.get(), head.data(), head.size()) &&
           WriteFull(fd.get(), payload.data(), payload.size());
  }
  if (good && rename(tmp.c_str(), path.c_str()) != 0) {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    good = rename(tmp.c_str(), path.c_str()) == 0;
  }
  if (!good) {
    unlink(tmp.c_str());
    Count(IoStats::Global().cache_errors);
    return;
  }
  const uint64_t total = estimate_.fetch_add(entry_size) + entry_size;
  const uint64_t written = written_since_scan_.fetch_add(entry_size) + entry_size;
  if (total > config_.max_bytes || written > config_.max_bytes / 16) {
    ScanAndEvict();
  }
}

void BlockCache::ScanAndEvict() {
  std::unique_lock<std::mutex> lock(scan_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another thread is at it
  written_since_scan_.store(0);
  const fs::path root(root_);
  const auto now = fs::file_time_type::clock::now();
  for (const Entry& t : ListTemps(root)) {
    std::error_code ec;
    if (now - t.mtime > kStaleTemp) fs::remove(t.path, ec);
  }
  std::vector<Entry> entries = ListEntries(root);
  uint64_t total = 0;
  for (const Entry& e : entries) total += e.size;
  if (total > config_.max_bytes) {
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.mtime < b.mtime; });
    const uint64_t target = config_.max_bytes / 10 * 9;
    for (const Entry& e : entries) {
      if (total <= target) break;
      std::error_code ec;
      if (fs::remove(e.path, ec)) Count(IoStats::Global().cache_evictions);
      total -= e.size;  // gone either way (another process may have evicted it)
    }
  }
  estimate_.store(total);
}

BlockCache::RangeLock::RangeLock(const BlockCache& cache, const CacheKey& key,
                                 uint64_t first, uint64_t last,
                                 const std::atomic<bool>* cancelled) {
  const std::string path = cache.root_ + "/lock";
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return;  // e.g. a read-only cache: fetch without it
  constexpr uint64_t kBlockMask = (1ull << kBlockBits) - 1;
  struct flock range = {};
  range.l_type = F_WRLCK;
  range.l_whence = SEEK_SET;
  range.l_start = static_cast<off_t>(((key.hash & kObjectMask) << kBlockBits) |
                                     (first & kBlockMask));
  range.l_len = static_cast<off_t>(
      std::min(last - first + 1, (kBlockMask + 1) - (first & kBlockMask)));
  const absl::Time deadline = absl::Now() + cache.config().lock_wait;
  absl::Duration pause = absl::Milliseconds(1);
  while (fcntl(fd_, F_OFD_SETLK, &range) != 0) {
    const bool busy = errno == EAGAIN || errno == EACCES || errno == EINTR;
    if (!busy || absl::Now() >= deadline ||
        (cancelled != nullptr && cancelled->load(std::memory_order_relaxed))) {
      close(fd_);
      fd_ = -1;
      return;
    }
    absl::SleepFor(std::min(pause, deadline - absl::Now()));
    pause = std::min(pause * 2, absl::Milliseconds(20));
  }
}

BlockCache::RangeLock::~RangeLock() {
  if (fd_ >= 0) close(fd_);  // releases the lock
}

absl::StatusOr<BlockCache::DirInfo> BlockCache::Inspect(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such cache directory"));
  }
  DirInfo info;
  for (const Entry& e : ListEntries(fs::path(dir) / kRootName)) {
    ++info.entries;
    info.bytes += e.size;
  }
  info.temp_files = ListTemps(fs::path(dir) / kRootName).size();
  return info;
}

absl::StatusOr<uint64_t> BlockCache::Clear(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such cache directory"));
  }
  // Only what the cache wrote, never other files in `dir`; the lock file
  // stays (a reader may hold a lock in it).
  const fs::path root = fs::path(dir) / kRootName;
  uint64_t freed = 0;
  std::vector<Entry> all = ListEntries(root);
  std::vector<Entry> temps = ListTemps(root);
  all.insert(all.end(), temps.begin(), temps.end());
  for (const Entry& e : all) {
    std::error_code rm_ec;
    if (fs::remove(e.path, rm_ec)) {
      freed += e.size;
    } else if (rm_ec) {
      return ErrnoToStatus(rm_ec.value(),
                           absl::StrCat(e.path.string(), ": delete failed"));
    }
  }
  return freed;
}

}  // namespace ffm
