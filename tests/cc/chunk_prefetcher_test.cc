// ChunkPrefetcher: order and coverage, window growth, the byte budget,
// error delivery, the in-flight cap and shutdown with reads in flight.
#include "ffm/prefetch/chunk_prefetcher.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ffm/prefetch/byte_budget.h"
#include "ffm/prefetch/executor.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

constexpr char kUri[] = "mem://bucket/chunks.bin";

std::string Bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + i / 251);
  return s;
}

PrefetchOptions Prefetch(uint64_t first, uint64_t chunk, int in_flight = 4) {
  PrefetchOptions o;
  o.first_chunk_size = first;
  o.chunk_size = chunk;
  o.max_in_flight = in_flight;
  return o;
}

// The chunk sizes a file of `size` bytes from `begin` should come in,
// computed independently: first, doubling, capped, the last one cut short.
std::vector<uint64_t> ExpectedSizes(uint64_t begin, uint64_t size,
                                    uint64_t first, uint64_t chunk) {
  std::vector<uint64_t> sizes;
  uint64_t next = std::min(first, chunk);
  for (uint64_t at = begin; at < size; at += sizes.back()) {
    sizes.push_back(std::min(next, size - at));
    next = std::min(2 * next, chunk);
  }
  return sizes;
}

// Reads every chunk the way ChunkStream does (dropping the previous chunk
// before asking for the next) and returns them as (offset, bytes).
struct Drained {
  std::vector<uint64_t> offsets, sizes;
  std::string bytes;
  absl::Status end;
  uint64_t max_in_use = 0;  // budget in use right after each Next()
};
Drained Drain(ChunkPrefetcher& prefetcher, const ByteBudget& budget) {
  Drained d;
  for (;;) {
    absl::StatusOr<std::shared_ptr<const Chunk>> c = prefetcher.Next();
    d.max_in_use = std::max(d.max_in_use, budget.in_use());
    if (!c.ok()) {
      d.end = c.status();
      return d;
    }
    d.offsets.push_back((*c)->offset());
    d.sizes.push_back((*c)->data().size());
    d.bytes.append((*c)->data().data(), (*c)->data().size());
  }
}

// Param: threaded (ThreadPool) or synchronous (null executor).
class ChunkPrefetcherTest : public ::testing::TestWithParam<bool> {
 protected:
  Executor* executor() { return pool_.get(); }
  std::unique_ptr<ThreadPool> pool_ =
      GetParam() ? std::make_unique<ThreadPool>(4) : nullptr;
};

TEST_P(ChunkPrefetcherTest, ChunksComeInOrderCoveringTheFileExactly) {
  const std::string data = Bytes(100000);
  StringSource source(kUri, data);
  struct Case {
    uint64_t begin, first, chunk;
  };
  for (Case c : {Case{0, 1000, 8192}, Case{0, 1 << 20, 8 << 20},
                 Case{12345, 7, 4096}, Case{0, 4096, 4096},
                 Case{99999, 10, 10}, Case{0, 0, 3000}}) {
    SCOPED_TRACE(absl::StrCat(c.begin, " ", c.first, " ", c.chunk));
    auto budget = std::make_shared<ByteBudget>(64 << 10);
    {
      ChunkPrefetcher p(&source, c.begin, Prefetch(c.first, c.chunk),
                        executor(), budget);
      EXPECT_EQ(p.end(), data.size());
      Drained d = Drain(p, *budget);
      EXPECT_EQ(d.sizes, ExpectedSizes(c.begin, data.size(),
                                       std::max<uint64_t>(1, c.first), c.chunk));
      uint64_t at = c.begin;  // offsets contiguous from `begin`
      for (size_t i = 0; i < d.offsets.size(); ++i) {
        ASSERT_EQ(d.offsets[i], at);
        at += d.sizes[i];
      }
      EXPECT_TRUE(d.bytes == data.substr(c.begin));
      EXPECT_TRUE(StatusIs(d.end, absl::StatusCode::kOutOfRange, {kUri}));
      EXPECT_TRUE(StatusIs(p.Next().status(), absl::StatusCode::kOutOfRange,
                           {kUri}));  // and again
    }
    EXPECT_EQ(budget->in_use(), 0u);
  }
}

TEST_P(ChunkPrefetcherTest, EmptyFileAndBeginAtOrPastTheEnd) {
  StringSource empty(kUri, "");
  StringSource ten(kUri, Bytes(10));
  auto budget = std::make_shared<ByteBudget>(1 << 20);
  for (auto [source, begin] : {std::pair<StringSource*, uint64_t>{&empty, 0},
                               {&ten, 10}, {&ten, 11}}) {
    ChunkPrefetcher p(source, begin, Prefetch(4, 4), executor(), budget);
    EXPECT_TRUE(StatusIs(p.Next().status(), absl::StatusCode::kOutOfRange,
                         {kUri}));
  }
  EXPECT_EQ(budget->in_use(), 0u);
}

// A failed read is delivered when its chunk reaches the head (the chunks
// before it arrive intact), with its code and message, and again after.
TEST_P(ChunkPrefetcherTest, ReadErrorReachesTheHeadWithItsCode) {
  const std::string data = Bytes(50000);
  for (auto code : {absl::StatusCode::kPermissionDenied,
                    absl::StatusCode::kUnavailable}) {
    StringSourceOptions so;
    so.fail_offset = 20000;  // in the chunk [16384, 20480) of 4 KiB chunks
    so.fail_code = code;
    StringSource source(kUri, data, so);
    auto budget = std::make_shared<ByteBudget>(1 << 20);
    {
      ChunkPrefetcher p(&source, 0, Prefetch(4096, 4096, 8), executor(),
                        budget);
      Drained d = Drain(p, *budget);
      EXPECT_EQ(d.offsets.size(), 4u);
      EXPECT_TRUE(d.bytes == data.substr(0, 16384));
      EXPECT_TRUE(StatusIs(d.end, code, {kUri, "offset 16384"}));
      EXPECT_TRUE(StatusIs(p.Next().status(), code, {kUri, "offset 16384"}));
    }
    EXPECT_EQ(budget->in_use(), 0u);
  }
}

// A source that returns fewer bytes than its size promised (the object
// changed under us) is DataLoss naming the file and offset.
TEST_P(ChunkPrefetcherTest, ShortReadIsDataLoss) {
  class Shrunk final : public ByteSource {
   public:
    const std::string& uri() const override { return uri_; }
    uint64_t size() const override { return 10000; }
    absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                  char* dst) const override {
      return offset >= 6000 ? 0 : std::min<size_t>(n, 6000 - offset);
    }
    std::string uri_ = kUri;
  } source;
  auto budget = std::make_shared<ByteBudget>(1 << 20);
  ChunkPrefetcher p(&source, 0, Prefetch(4096, 4096), executor(), budget);
  Drained d = Drain(p, *budget);
  EXPECT_EQ(d.offsets, std::vector<uint64_t>{0});
  EXPECT_TRUE(StatusIs(d.end, absl::StatusCode::kDataLoss,
                       {kUri, "offset 4096"}));
}

INSTANTIATE_TEST_SUITE_P(Executors, ChunkPrefetcherTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "pool" : "sync";
                         });

TEST(ChunkPrefetcherSyncTest, NullExecutorReadsOnlyInsideNext) {
  auto stats = std::make_shared<ReadStats>();
  StringSourceOptions so;
  so.stats = stats;
  StringSource source(kUri, Bytes(10000), so);
  auto budget = std::make_shared<ByteBudget>(1 << 20);
  ChunkPrefetcher p(&source, 0, Prefetch(1000, 4000), nullptr, budget);
  EXPECT_EQ(stats->reads.load(), 0);
  for (int i = 1; i <= 4; ++i) {  // 1000 + 2000 + 4000 + 3000
    ASSERT_TRUE(p.Next().ok());
    EXPECT_EQ(stats->reads.load(), i);
  }
  EXPECT_FALSE(p.Next().ok());
  EXPECT_EQ(stats->reads.load(), 4);
  EXPECT_EQ(stats->max_in_flight.load(), 1);
}

// Readahead stays within the budget: at most `limit` bytes of speculative
// chunks plus the one chunk the consumer is waiting for; everything is
// returned once the chunks and the prefetcher are gone.
TEST(ChunkPrefetcherBudgetTest, ReadaheadRespectsTheBudget) {
  constexpr uint64_t kChunk = 4096;
  const std::string data = Bytes(64 * kChunk + 100);
  ThreadPool pool(4);
  StringSourceOptions so;
  so.delay = absl::Microseconds(200);
  StringSource source(kUri, data, so);
  for (uint64_t limit : {uint64_t{0}, kChunk / 2, kChunk, 2 * kChunk + 1,
                         5 * kChunk, 100 * kChunk}) {
    SCOPED_TRACE(limit);
    auto budget = std::make_shared<ByteBudget>(limit);
    {
      ChunkPrefetcher p(&source, 0, Prefetch(kChunk, kChunk, 16), &pool,
                        budget);
      Drained d = Drain(p, *budget);
      EXPECT_TRUE(d.bytes == data);
      EXPECT_LE(d.max_in_use, limit + kChunk);
    }
    EXPECT_LE(budget->peak(), limit + kChunk);
    EXPECT_EQ(budget->in_use(), 0u);
  }
}

// Chunks may outlive their prefetcher; each returns its buffer when it goes.
// A file's window (reading + ready chunks) stays within max_window_bytes
// even when the shared budget has room: a fair share when files are read
// in turn. The chunk handed to the consumer is no longer the window's.
TEST(ChunkPrefetcherBudgetTest, WindowStaysWithinItsShare) {
  constexpr uint64_t kChunk = 4096;
  const std::string data = Bytes(64 * kChunk);
  ThreadPool pool(4);
  StringSource source(kUri, data);
  for (uint64_t share : {kChunk, 3 * kChunk, 10 * kChunk}) {
    SCOPED_TRACE(share);
    auto budget = std::make_shared<ByteBudget>(1000 * kChunk);
    PrefetchOptions o = Prefetch(kChunk, kChunk, 16);
    o.max_window_bytes = share;
    {
      ChunkPrefetcher p(&source, 0, o, &pool, budget);
      Drained d = Drain(p, *budget);
      EXPECT_TRUE(d.bytes == data);
      // The window plus the chunk being consumed.
      EXPECT_LE(d.max_in_use, share + kChunk);
    }
    EXPECT_LE(budget->peak(), share + kChunk);
    EXPECT_EQ(budget->in_use(), 0u);
  }
}

TEST(ChunkPrefetcherBudgetTest, ChunksOutlivingThePrefetcherReleaseLater) {
  StringSource source(kUri, Bytes(20000));
  ThreadPool pool(2);
  auto budget = std::make_shared<ByteBudget>(1 << 20);
  std::shared_ptr<const Chunk> kept;
  {
    ChunkPrefetcher p(&source, 0, Prefetch(3000, 3000), &pool, budget);
    kept = *p.Next();
  }
  EXPECT_EQ(budget->in_use(), ChunkBufferSize(3000));  // the buffer it holds
  EXPECT_TRUE(kept->data() == Bytes(3000));
  kept.reset();
  EXPECT_EQ(budget->in_use(), 0u);
}

// A file opened ahead while another file's unread chunks fill the budget
// gets its forced first read only; when the budget frees, nothing of its own
// is running to restart it, so it waits until Resume().
TEST(ChunkPrefetcherBudgetTest, ResumeRestartsReadsTheBudgetRefused) {
  constexpr uint64_t kChunk = 4096;
  ThreadPool pool(4);
  auto budget = std::make_shared<ByteBudget>(2 * kChunk);
  StringSource current("mem://bucket/current", Bytes(2 * kChunk));
  auto stats = std::make_shared<ReadStats>();
  StringSourceOptions counted;
  counted.stats = stats;
  StringSource ahead("mem://bucket/ahead", Bytes(8 * kChunk), counted);
  auto first = std::make_unique<ChunkPrefetcher>(
      &current, 0, Prefetch(kChunk, kChunk), &pool, budget);
  std::shared_ptr<const Chunk> a = *first->Next();
  std::shared_ptr<const Chunk> b = *first->Next();  // the budget is full
  ChunkPrefetcher next(&ahead, 0, Prefetch(kChunk, kChunk), &pool, budget);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (stats->reads.load() < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  absl::SleepFor(absl::Milliseconds(50));  // its read has ended
  ASSERT_EQ(stats->reads.load(), 1) << "only the forced first read";
  a.reset();
  b.reset();
  first.reset();
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(stats->reads.load(), 1) << "restarted without Resume()";
  next.Resume();
  while (stats->reads.load() < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  absl::SleepFor(absl::Milliseconds(50));
  // Its unread first chunk holds one of the budget's two.
  EXPECT_EQ(stats->reads.load(), 2)
      << "Resume() should take the one chunk of room, and no more";
  Drained d = Drain(next, *budget);
  EXPECT_TRUE(absl::IsOutOfRange(d.end)) << d.end;
  EXPECT_TRUE(d.bytes == Bytes(8 * kChunk));
}

// Files sharing one budget, read round robin as an interleaving reader
// does: the bound is the limit plus one chunk per open file.
TEST(ChunkPrefetcherBudgetTest, SharedBudgetAcrossFiles) {
  constexpr uint64_t kChunk = 2048, kLimit = 3 * kChunk;
  constexpr int kFiles = 3;
  ThreadPool pool(4);
  auto budget = std::make_shared<ByteBudget>(kLimit);
  std::vector<std::unique_ptr<StringSource>> sources;
  std::vector<std::unique_ptr<ChunkPrefetcher>> prefetchers;
  std::vector<std::shared_ptr<const Chunk>> held(kFiles);
  for (int f = 0; f < kFiles; ++f) {
    sources.push_back(std::make_unique<StringSource>(
        absl::StrCat(kUri, f), Bytes((20 + f) * kChunk)));
    prefetchers.push_back(std::make_unique<ChunkPrefetcher>(
        sources.back().get(), 0, Prefetch(kChunk, kChunk, 8), &pool, budget));
  }
  for (bool any = true; any;) {
    any = false;
    for (int f = 0; f < kFiles; ++f) {
      held[f].reset();
      absl::StatusOr<std::shared_ptr<const Chunk>> c = prefetchers[f]->Next();
      if (c.ok()) {
        held[f] = *std::move(c);
        any = true;
      }
      EXPECT_LE(budget->in_use(), kLimit + kFiles * kChunk);
    }
  }
  EXPECT_LE(budget->peak(), kLimit + kFiles * kChunk);
  prefetchers.clear();
  EXPECT_EQ(budget->in_use(), 0u);
}

TEST(ChunkPrefetcherConcurrencyTest, MaxInFlightIsRespected) {
  for (int cap : {1, 3}) {
    SCOPED_TRACE(cap);
    auto stats = std::make_shared<ReadStats>();
    StringSourceOptions so;
    so.delay = absl::Milliseconds(2);
    so.stats = stats;
    const std::string data = Bytes(40 * 1000);
    StringSource source(kUri, data, so);
    ThreadPool pool(8);
    auto budget = std::make_shared<ByteBudget>(1 << 20);
    ChunkPrefetcher p(&source, 0, Prefetch(1000, 1000, cap), &pool, budget);
    Drained d = Drain(p, *budget);
    EXPECT_TRUE(d.bytes == data);
    EXPECT_EQ(stats->reads.load(), 40);
    EXPECT_LE(stats->max_in_flight.load(), cap);
    if (cap > 1) {
      EXPECT_GT(stats->max_in_flight.load(), 1);  // reads did overlap
    }
  }
}

// Destroying the prefetcher with slow reads in flight cancels the queued
// ones and waits for the running ones: when the destructor returns no read
// is running and every byte is back in the budget.
TEST(ChunkPrefetcherConcurrencyTest, DestroyWithSlowReadsInFlight) {
  for (bool consume_one : {false, true}) {
    auto stats = std::make_shared<ReadStats>();
    StringSourceOptions so;
    so.delay = absl::Milliseconds(50);
    so.stats = stats;
    StringSource source(kUri, Bytes(1 << 20), so);
    ThreadPool pool(2);
    auto budget = std::make_shared<ByteBudget>(1 << 20);
    {
      ChunkPrefetcher p(&source, 0, Prefetch(8192, 8192, 8), &pool, budget);
      if (consume_one) {
        ASSERT_TRUE(p.Next().ok());
      }
      EXPECT_GT(budget->in_use(), 0u);
    }
    EXPECT_EQ(stats->in_flight.load(), 0);
    // 8 reads were scheduled; those not started by then were cancelled.
    EXPECT_LE(stats->reads.load(), 4);
    EXPECT_EQ(budget->in_use(), 0u);
  }
}

// Logs when each read starts and ends (one sequence for both), to check the
// order reads were made in.
class LoggingSource final : public ByteSource {
 public:
  struct Read {
    uint64_t offset, length;
    int started, ended;
  };
  explicit LoggingSource(std::string data) : inner_(kUri, std::move(data)) {}

  const std::string& uri() const override { return inner_.uri(); }
  uint64_t size() const override { return inner_.size(); }
  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                char* dst) const override {
    int started;
    {
      std::lock_guard<std::mutex> lock(mu_);
      started = ++clock_;
      in_flight_max_ = std::max(in_flight_max_, ++in_flight_);
    }
    absl::SleepFor(absl::Milliseconds(1));
    absl::StatusOr<size_t> got = inner_.ReadAt(offset, n, dst);
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    reads_.push_back({offset, n, started, ++clock_});
    return got;
  }
  std::vector<Read> reads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reads_;
  }
  int max_in_flight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return in_flight_max_;
  }

 private:
  const StringSource inner_;
  mutable std::mutex mu_;
  mutable int clock_ = 0;
  mutable int in_flight_ = 0;
  mutable int in_flight_max_ = 0;
  mutable std::vector<Read> reads_;
};

// With runs longer than a chunk, each run is read by one lane in sequence
// (a chunk starts only once the one before it in the run has ended), runs
// are taken in file order with at most max_in_flight at once, and the
// consumer still gets every byte in order.
TEST(ChunkPrefetcherRunsTest, EachRunIsReadInSequenceByOneLane) {
  const uint64_t first = 4096, chunk = 4096, run = 16384;
  const std::string data = Bytes(300000);
  LoggingSource source(data);
  ThreadPool pool(8);
  auto budget = std::make_shared<ByteBudget>(1 << 20);
  PrefetchOptions o = Prefetch(first, chunk, /*in_flight=*/3);
  o.run_size = run;
  ChunkPrefetcher p(&source, 0, o, &pool, budget);
  Drained d = Drain(p, *budget);
  EXPECT_TRUE(d.bytes == data);
  EXPECT_LE(source.max_in_flight(), 3);
  EXPECT_GT(source.max_in_flight(), 1);

  // Run boundaries, computed independently: first, doubling up to `run`.
  std::set<uint64_t> run_starts;
  uint64_t length = first;
  for (uint64_t at = 0; at < data.size(); at += length, length = std::min(2 * length, run)) {
    run_starts.insert(at);
  }
  std::map<uint64_t, LoggingSource::Read> by_offset;
  for (const auto& r : source.reads()) by_offset[r.offset] = r;
  EXPECT_EQ(by_offset.size(), d.offsets.size());  // each chunk read once
  for (const auto& [offset, r] : by_offset) {
    EXPECT_LE(r.length, chunk);
    if (run_starts.count(offset)) continue;
    auto before = by_offset.find(offset - chunk);
    ASSERT_NE(before, by_offset.end()) << offset;
    EXPECT_GT(r.started, before->second.ended) << "chunk at " << offset
                                               << " overlapped its run";
  }
  EXPECT_EQ(budget->in_use(), 0u);
}

}  // namespace
}  // namespace test
}  // namespace ffm
