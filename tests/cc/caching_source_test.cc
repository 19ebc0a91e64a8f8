// CachingSource and BlockCache over in-memory sources: misses then hits,
// block alignment (reads across blocks, the short last block, empty
// objects), entries flipped or truncated on disk (dropped and fetched
// again, never returned), a changed object, the size cap, two readers
// racing for one block, an unwritable cache, CacheConfig parsing and
// `tf-ffm cache`'s Inspect/Clear.
#include "ffm/io/caching_source.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ffm/io/io_stats.h"
#include "ffm/io/storage.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kBlock = 4096;

// A StringSource whose content has a version, as an S3 object's ETag.
class Versioned final : public ForwardingSource {
 public:
  Versioned(std::unique_ptr<ByteSource> inner, std::string version)
      : ForwardingSource(std::move(inner)), version_(std::move(version)) {}
  std::string version() const override { return version_; }

 private:
  const std::string version_;
};

std::string Pattern(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

struct Counters {
  uint64_t hits, misses, hit_bytes, evictions, corrupt, errors;
  static Counters Now() {
    const IoStats& s = IoStats::Global();
    return {s.cache_hits.load(), s.cache_misses.load(),
            s.cache_hit_bytes.load(), s.cache_evictions.load(),
            s.cache_corrupt.load(), s.cache_errors.load()};
  }
};

class CachingSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "caching_source_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    config_.dir = dir_;
    config_.block_size = kBlock;
    config_.max_bytes = 1 << 30;
    config_.lock_wait = absl::Seconds(10);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // A cached view of `data` as object `uri` at `version`; its inner
  // reads are counted in `stats`.
  std::unique_ptr<ByteSource> Open(const std::string& data,
                                   const std::string& version = "etag-1",
                                   StringSourceOptions options = {},
                                   const std::string& uri = "s3://b/obj") {
    if (options.stats == nullptr) options.stats = stats_;
    auto inner = std::make_unique<Versioned>(
        std::make_unique<StringSource>(uri, data, options), version);
    if (cache_ == nullptr) cache_ = std::make_shared<BlockCache>(config_);
    std::string identity = CacheIdentity(*inner);
    return std::make_unique<CachingSource>(std::move(inner), cache_, identity);
  }

  static std::string Read(const ByteSource& source, uint64_t offset, size_t n) {
    std::string out(n, '\0');
    absl::StatusOr<size_t> got = source.ReadAt(offset, n, out.data());
    EXPECT_TRUE(got.ok()) << got.status();
    out.resize(got.ok() ? *got : 0);
    return out;
  }

  std::vector<fs::path> Entries() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(
             fs::path(dir_) / "ffm-cache-v1" / "data")) {
      if (e.is_regular_file()) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_;
  CacheConfig config_;
  std::shared_ptr<BlockCache> cache_;
  std::shared_ptr<ReadStats> stats_ = std::make_shared<ReadStats>();
};

TEST_F(CachingSourceTest, SecondReadIsServedFromTheCache) {
  const std::string data = Pattern(3 * kBlock, 1);
  const Counters before = Counters::Now();
  EXPECT_EQ(Read(*Open(data), 0, data.size()), data);
  EXPECT_EQ(stats_->reads.load(), 1);  // three missing blocks, one request
  EXPECT_EQ(Entries().size(), 3u);
  EXPECT_EQ(Read(*Open(data), 0, data.size()), data);
  EXPECT_EQ(stats_->reads.load(), 1);
  const Counters after = Counters::Now();
  EXPECT_EQ(after.misses - before.misses, 3u);
  EXPECT_EQ(after.hits - before.hits, 3u);
  EXPECT_EQ(after.hit_bytes - before.hit_bytes, data.size());
}

TEST_F(CachingSourceTest, ReadsOfAnyAlignmentMatchTheObject) {
  // Three whole blocks and a short last one.
  const std::string data = Pattern(3 * kBlock + 100, 2);
  auto source = Open(data);
  struct Range {
    uint64_t offset;
    size_t n;
  };
  const Range ranges[] = {
      {1, 10},                      // inside one block, cold
      {kBlock - 5, 10},             // across a boundary
      {kBlock / 2, 2 * kBlock},     // across three blocks, partly cached
      {3 * kBlock, 100},            // the short last block alone
      {3 * kBlock + 50, 1000},      // past the end: cut short
      {0, data.size()},             // everything, all cached now
      {kBlock, kBlock},             // exactly one block
  };
  for (const Range& r : ranges) {
    SCOPED_TRACE(absl::StrCat("offset ", r.offset, " n ", r.n));
    EXPECT_EQ(Read(*source, r.offset, r.n), data.substr(r.offset, r.n));
  }
  const int reads = stats_->reads.load();
  EXPECT_EQ(Read(*source, 7, data.size()), data.substr(7));
  EXPECT_EQ(stats_->reads.load(), reads);  // all four blocks cached
  EXPECT_EQ(Read(*source, data.size(), 10), "");
  EXPECT_EQ(Read(*source, 3, 0), "");
}

TEST_F(CachingSourceTest, AWhollyCachedObjectIsReadAsALocalFile) {
  const std::string data = Pattern(3 * kBlock + 10, 12);
  auto cold = Open(data);
  EXPECT_TRUE(cold->prefers_parallel_reads());  // as the inner source
  EXPECT_EQ(Read(*cold, 0, 2 * kBlock), data.substr(0, 2 * kBlock));
  EXPECT_TRUE(Open(data)->prefers_parallel_reads());  // two blocks of four
  EXPECT_EQ(Read(*cold, 0, data.size()), data);
  auto warm = Open(data);
  EXPECT_FALSE(warm->prefers_parallel_reads());
  EXPECT_FALSE(warm->streams_sequential_reads());
  // Small reads in sequence, as the local reader makes them.
  std::string got;
  for (uint64_t at = 0; at < data.size(); at += 1000) got += Read(*warm, at, 1000);
  EXPECT_EQ(got, data);
  EXPECT_EQ(stats_->reads.load(), 2);
}

TEST_F(CachingSourceTest, ConcurrentSmallReadsOfOneSource) {
  const std::string data = Pattern(6 * kBlock + 77, 14);
  EXPECT_EQ(Read(*Open(data), 0, data.size()), data);
  auto source = Open(data);  // wholly cached: small reads share its last block
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      uint32_t x = 12345u + t;
      for (int i = 0; i < 200; ++i) {
        x = x * 1664525u + 1013904223u;
        const uint64_t at = x % data.size();
        const size_t n = 1 + (x >> 8) % 3000;
        std::string buf(n, '\0');
        absl::StatusOr<size_t> got = source->ReadAt(at, n, buf.data());
        if (!got.ok() || buf.substr(0, *got) != data.substr(at, n)) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(stats_->reads.load(), 1);
}

TEST_F(CachingSourceTest, EmptyObject) {
  auto source = Open("");
  EXPECT_EQ(source->size(), 0u);
  EXPECT_EQ(Read(*source, 0, 10), "");
  EXPECT_EQ(stats_->reads.load(), 0);
}

TEST_F(CachingSourceTest, FlippedOrTruncatedEntryIsDroppedAndFetchedAgain) {
  const std::string data = Pattern(2 * kBlock, 3);
  EXPECT_EQ(Read(*Open(data), 0, data.size()), data);
  std::vector<fs::path> entries = Entries();
  ASSERT_EQ(entries.size(), 2u);
  {  // one payload byte flipped in the first entry
    std::fstream f(entries[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-10, std::ios::end);
    char c = 0;
    f.seekg(-10, std::ios::end);
    f.get(c);
    f.seekp(-10, std::ios::end);
    f.put(static_cast<char>(c ^ 0x40));
  }
  fs::resize_file(entries[1], fs::file_size(entries[1]) - 1);  // truncated
  const Counters before = Counters::Now();
  const int reads = stats_->reads.load();
  EXPECT_EQ(Read(*Open(data), 0, data.size()), data);
  EXPECT_EQ(stats_->reads.load(), reads + 1);
  EXPECT_EQ(Counters::Now().corrupt - before.corrupt, 2u);
  // Written again, whole: served from the cache.
  EXPECT_EQ(Read(*Open(data), 0, data.size()), data);
  EXPECT_EQ(stats_->reads.load(), reads + 1);
  // A part of a corrupt block is never returned either.
  fs::resize_file(Entries()[0], 40);
  EXPECT_EQ(Read(*Open(data), 10, 20), data.substr(10, 20));
  EXPECT_EQ(stats_->reads.load(), reads + 2);
}

TEST_F(CachingSourceTest, AChangedObjectIsNeverServedStale) {
  const std::string v1 = Pattern(2 * kBlock, 4);
  const std::string v2 = Pattern(2 * kBlock, 5);  // same size, new content
  EXPECT_EQ(Read(*Open(v1, "etag-1"), 0, v1.size()), v1);
  EXPECT_EQ(Read(*Open(v2, "etag-2"), 0, v2.size()), v2);
  EXPECT_EQ(stats_->reads.load(), 2);
  // A different size is a different identity too.
  const std::string v3 = Pattern(kBlock, 6);
  EXPECT_EQ(Read(*Open(v3, "etag-2"), 0, v3.size()), v3);
  EXPECT_EQ(stats_->reads.load(), 3);
}

TEST_F(CachingSourceTest, SizeCapEvictsLeastRecentlyUsed) {
  const std::string data = Pattern(40 * kBlock, 7);
  const uint64_t entry = kBlock + 32 + CacheIdentity(Versioned(
      std::make_unique<StringSource>("s3://b/obj", data), "etag-1")).size();
  config_.max_bytes = 10 * entry;
  const Counters before = Counters::Now();
  auto source = Open(data);
  for (uint64_t b = 0; b < 40; ++b) {
    EXPECT_EQ(Read(*source, b * kBlock, kBlock), data.substr(b * kBlock, kBlock));
  }
  uint64_t total = 0;
  for (const fs::path& p : Entries()) total += fs::file_size(p);
  EXPECT_LE(total, config_.max_bytes);
  EXPECT_GE(Counters::Now().evictions - before.evictions, 30u);
  // The most recent block survived; reading everything is still correct.
  const int reads = stats_->reads.load();
  EXPECT_EQ(Read(*source, 39 * kBlock, kBlock), data.substr(39 * kBlock));
  EXPECT_EQ(stats_->reads.load(), reads);
  EXPECT_EQ(Read(*source, 0, data.size()), data);
}

TEST_F(CachingSourceTest, TwoReadersRacingForOneBlockFetchItOnce) {
  const std::string data = Pattern(kBlock, 8);
  StringSourceOptions slow;
  slow.delay = absl::Milliseconds(200);
  auto a = Open(data, "etag-1", slow);
  auto b = Open(data, "etag-1", slow);  // another reader, as another process
  std::string got_a, got_b;
  std::thread ta([&] { got_a = Read(*a, 0, kBlock); });
  std::thread tb([&] { got_b = Read(*b, 100, 50); });
  ta.join();
  tb.join();
  EXPECT_EQ(got_a, data);
  EXPECT_EQ(got_b, data.substr(100, 50));
  EXPECT_EQ(stats_->reads.load(), 1);
}

TEST_F(CachingSourceTest, AHolderThatNeverLetsGoDelaysOnlyUpToLockWait) {
  config_.lock_wait = absl::Milliseconds(200);
  const std::string data = Pattern(2 * kBlock, 13);
  auto source = Open(data);
  // Another reader holds the lock on both blocks and does not fetch them.
  BlockCache::RangeLock held(*cache_, CacheKey(CacheIdentity(*source)), 0, 1, nullptr);
  const absl::Time start = absl::Now();
  EXPECT_EQ(Read(*source, 0, data.size()), data);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  EXPECT_EQ(stats_->reads.load(), 1);
  EXPECT_EQ(Entries().size(), 2u);  // published all the same
}

TEST_F(CachingSourceTest, UnwritableCacheStillServesEveryRead) {
  config_.dir = "/dev/null/cache";  // cannot be made
  const std::string data = Pattern(2 * kBlock + 1, 9);
  const Counters before = Counters::Now();
  EXPECT_EQ(Read(*Open(data), 0, data.size()), data);
  EXPECT_EQ(Read(*Open(data), 5, kBlock), data.substr(5, kBlock));
  EXPECT_EQ(stats_->reads.load(), 2);
  EXPECT_GE(Counters::Now().errors - before.errors, 3u);
}

TEST_F(CachingSourceTest, InnerErrorsPassThrough) {
  StringSourceOptions failing;
  failing.fail_offset = kBlock + 1;
  auto source = Open(Pattern(2 * kBlock, 10), "etag-1", failing);
  std::string buf(2 * kBlock, '\0');
  EXPECT_TRUE(StatusIs(source->ReadAt(0, buf.size(), buf.data()).status(),
                       absl::StatusCode::kUnavailable, {"s3://b/obj"}));
  EXPECT_TRUE(Entries().empty());
}

TEST_F(CachingSourceTest, InspectAndClear) {
  const std::string data = Pattern(3 * kBlock, 11);
  EXPECT_EQ(Read(*Open(data), 0, data.size()), data);
  fs::path other = fs::path(dir_) / "keep.txt";
  std::ofstream(other) << "not the cache's";
  absl::StatusOr<BlockCache::DirInfo> info = BlockCache::Inspect(dir_);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->entries, 3u);
  EXPECT_GT(info->bytes, 3 * kBlock);
  absl::StatusOr<uint64_t> freed = BlockCache::Clear(dir_);
  ASSERT_TRUE(freed.ok()) << freed.status();
  EXPECT_EQ(*freed, info->bytes);
  EXPECT_TRUE(Entries().empty());
  EXPECT_TRUE(fs::exists(other));
  EXPECT_TRUE(StatusIs(BlockCache::Inspect(dir_ + "/missing").status(),
                       absl::StatusCode::kNotFound, {"missing"}));
}

TEST_F(CachingSourceTest, WrapperCachesRemoteObjectsWithAVersionOnly) {
  SourceWrapper wrap = MakeCacheWrapper(config_);
  ASSERT_NE(wrap, nullptr);
  auto plain = std::make_unique<StringSource>("s3://b/k", "abc");
  const ByteSource* raw = plain.get();
  EXPECT_EQ(wrap(std::move(plain)).get(), raw);  // no version: not cached
  auto versioned = std::make_unique<Versioned>(
      std::make_unique<StringSource>("s3://b/k", "abc"), "e");
  raw = versioned.get();
  EXPECT_NE(wrap(std::move(versioned)).get(), raw);
  auto local = std::make_unique<Versioned>(
      std::make_unique<StringSource>("/data/a", "abc"), "e");
  raw = local.get();
  EXPECT_EQ(wrap(std::move(local)).get(), raw);  // a path: mounts not asked for
  EXPECT_EQ(MakeCacheWrapper(CacheConfig{}), nullptr);
  // Asked for by another Storage over the same directory: a mount (parallel
  // reads preferred) is cached, whatever the first one chose.
  CacheConfig with_mounts = config_;
  with_mounts.mounts = true;
  local = std::make_unique<Versioned>(
      std::make_unique<StringSource>("/mnt/data/a", "abc"), "e");
  raw = local.get();
  EXPECT_NE(MakeCacheWrapper(with_mounts)(std::move(local)).get(), raw);
}

TEST_F(CachingSourceTest, StorageTakesCacheOptions) {
  EXPECT_TRUE(Storage::Create(absl::StrCat("cache.dir=", dir_, ";cache.size=1G")).ok());
  EXPECT_TRUE(StatusIs(Storage::Create("cache.colour=red").status(),
                       absl::StatusCode::kInvalidArgument, {"colour"}));
  EXPECT_TRUE(StatusIs(Storage::Create("cache.size=big").status(),
                       absl::StatusCode::kInvalidArgument, {"size", "big"}));
}

TEST(CacheConfigTest, EnvironmentThenOptions) {
  auto env = [](const char* name) -> const char* {
    if (std::string(name) == "TF_FFM_CACHE_DIR") return "/env/dir";
    if (std::string(name) == "TF_FFM_CACHE_SIZE") return "2G";
    return nullptr;
  };
  absl::StatusOr<CacheConfig> c = CacheConfig::Make("", env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->dir, "/env/dir");
  EXPECT_EQ(c->max_bytes, 2ull << 30);
  c = CacheConfig::Make("dir=/opt/c;size=1048576;mounts=true;block_size=64K;lock_wait=2",
                        env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->dir, "/opt/c");
  EXPECT_EQ(c->max_bytes, 1048576u);
  EXPECT_EQ(c->block_size, 64u << 10);
  EXPECT_TRUE(c->mounts);
  EXPECT_EQ(c->lock_wait, absl::Seconds(2));
  auto none = [](const char*) -> const char* { return nullptr; };
  EXPECT_FALSE(CacheConfig::Make("", none)->enabled());
  for (const char* bad : {"colour=red", "size=lots", "mounts=maybe",
                          "block_size=1000", "lock_wait=-1"}) {
    EXPECT_TRUE(StatusIs(CacheConfig::Make(bad, none).status(),
                         absl::StatusCode::kInvalidArgument,
                         {std::string(bad).substr(0, std::string(bad).find('='))}))
        << bad;
  }
}

}  // namespace
}  // namespace test
}  // namespace ffm
