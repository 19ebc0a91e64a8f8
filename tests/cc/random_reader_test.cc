// RandomReader and ReadIndexedRecord: records in plan order byte-equal to the
// files' records, resuming with SkipTo, stale files and bad indexes, errors
// from the source, and teardown mid-read with the budget given back.
#include "ffm/reader/random_reader.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ffm/io/forwarding_source.h"
#include "ffm/io/io_stats.h"
#include "ffm/tfrecord/format.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

// A dataset in memory: records per file, their framed bytes and an index.
struct Dataset {
  std::vector<std::vector<std::string>> records;  // per file
  std::map<std::string, std::string> bytes;       // uri -> file
  std::shared_ptr<const RecordIndex> index;

  std::string Uri(size_t f) const { return absl::StrCat("mem://d/f", f); }
  // Record `id`, numbered in file order as the index numbers them.
  const std::string& Record(uint64_t id) const {
    for (const auto& file : records) {
      if (id < file.size()) return file[id];
      id -= file.size();
    }
    static const std::string* const kNone = new std::string("<no record>");
    return *kNone;
  }
};

// `num_files` files of random records; file 1 is empty so that record ids
// pass over an empty file.
Dataset MakeDataset(uint32_t seed, int num_files, int max_records,
                    size_t max_length) {
  Dataset d;
  std::mt19937 rng(seed);
  std::vector<IndexedFile> files;
  std::vector<uint64_t> lengths;
  for (int f = 0; f < num_files; ++f) {
    int n = f == 1 ? 0 : std::uniform_int_distribution<int>(1, max_records)(rng);
    d.records.push_back(RandomRecords(rng(), n, max_length));
    std::string bytes = FrameRecords(d.records.back());
    IndexedFile file;
    file.uri = d.Uri(f);
    file.size = bytes.size();
    file.num_records = d.records.back().size();
    for (const std::string& r : d.records.back()) lengths.push_back(r.size());
    files.push_back(file);
    d.bytes[d.Uri(f)] = std::move(bytes);
  }
  absl::StatusOr<RecordIndex> index =
      RecordIndex::Create(std::move(files), std::move(lengths));
  EXPECT_TRUE(index.ok()) << index.status();
  d.index = std::make_shared<const RecordIndex>(*std::move(index));
  return d;
}

std::vector<uint64_t> PlanOrder(const ReadPlan& plan) {
  std::vector<uint64_t> out;
  for (const ReadGroup& g : GroupsOf(plan)) {
    out.insert(out.end(), g.records.begin(), g.records.end());
  }
  return out;
}

std::vector<std::string> Expected(const Dataset& d,
                                  const std::vector<uint64_t>& ids) {
  std::vector<std::string> out;
  for (uint64_t id : ids) out.push_back(d.Record(id));
  return out;
}

absl::Status ReadRecord(RandomReader& reader, std::string* record) {
  return reader.ReadRecord([record](size_t n) {
    record->resize(n);
    return record->data();
  });
}

// Every record up to the first non-OK status, and that status.
ReadResult ReadAll(RandomReader& reader) {
  ReadResult result;
  for (;;) {
    std::string record;
    result.status = ReadRecord(reader, &record);
    if (!result.status.ok()) return result;
    result.records.push_back(std::move(record));
  }
}

int64_t BytesInFlight() {
  return IoStats::Global().bytes_in_flight.load(std::memory_order_relaxed);
}

// A source that reports a modification time (StringSource reports none).
class TimedSource final : public ForwardingSource {
 public:
  TimedSource(std::unique_ptr<ByteSource> inner, int64_t mtime_ns)
      : ForwardingSource(std::move(inner)), mtime_ns_(mtime_ns) {}
  int64_t mtime_ns() const override { return mtime_ns_; }

 private:
  const int64_t mtime_ns_;
};


using Param = std::tuple<ShuffleMode, int /*io_threads*/,
                         uint64_t /*budget_bytes*/>;

class RandomReaderTest : public ::testing::TestWithParam<Param> {
 protected:
  RandomReaderTest() : data_(MakeDataset(21, 5, 40, 3000)) {}

  PlanOptions Plan(uint64_t shards = 1, uint64_t shard = 0) const {
    PlanOptions o;
    o.shuffle = std::get<0>(GetParam());
    o.seed = 8;
    o.epoch = 2;
    o.num_shards = shards;
    o.shard_index = shard;
    o.range_bytes = 16 << 10;
    o.group_records = 8;
    o.window_blocks = 2;
    return o;
  }
  RandomReaderOptions Options() const {
    RandomReaderOptions o;
    o.io_threads = std::get<1>(GetParam());
    o.budget_bytes = std::get<2>(GetParam());
    o.max_groups_ahead = 4;
    return o;
  }

  const Dataset data_;
};

TEST_P(RandomReaderTest, YieldsThePlansRecordsInOrder) {
  const int64_t in_flight_before = BytesInFlight();
  for (uint64_t shard = 0; shard < 2; ++shard) {
    SCOPED_TRACE(absl::StrCat("shard ", shard));
    ReadPlan plan = MakeReadPlan(*data_.index, Plan(2, shard));
    std::vector<std::string> expected = Expected(data_, PlanOrder(plan));
    {
      RandomReader reader(data_.index, plan, MapOpener(data_.bytes), Options());
      EXPECT_EQ(reader.position(), 0u);
      ReadResult got = ReadAll(reader);
      EXPECT_TRUE(absl::IsOutOfRange(got.status)) << got.status;
      EXPECT_EQ(got.records.size(), expected.size());
      EXPECT_TRUE(got.records == expected) << "records differ from the plan's";
      EXPECT_EQ(reader.position(), expected.size());
      // The end stays the end.
      std::string record;
      EXPECT_TRUE(absl::IsOutOfRange(ReadRecord(reader, &record)));
      EXPECT_EQ(reader.position(), expected.size());
    }
    EXPECT_EQ(BytesInFlight(), in_flight_before)
        << "the reader kept budget bytes after it was destroyed";
  }
}

TEST_P(RandomReaderTest, SkipToResumesExactlyWhereTheCheckpointWas) {
  ReadPlan plan = MakeReadPlan(*data_.index, Plan());
  std::vector<std::string> expected = Expected(data_, PlanOrder(plan));
  const uint64_t n = expected.size();
  ASSERT_GT(n, 10u);
  for (uint64_t at : {uint64_t{0}, uint64_t{1}, uint64_t{7}, uint64_t{8},
                      uint64_t{9}, n / 2, n - 1, n}) {
    SCOPED_TRACE(absl::StrCat("position ", at));
    RandomReader reader(data_.index, plan, MapOpener(data_.bytes), Options());
    ASSERT_TRUE(reader.SkipTo(at).ok());
    EXPECT_EQ(reader.position(), at);
    ReadResult got = ReadAll(reader);
    EXPECT_TRUE(absl::IsOutOfRange(got.status)) << got.status;
    EXPECT_TRUE(got.records ==
                std::vector<std::string>(expected.begin() + at, expected.end()));
    EXPECT_EQ(reader.position(), n);
  }
}

INSTANTIATE_TEST_SUITE_P(
    ModesThreadsBudgets, RandomReaderTest,
    ::testing::Combine(::testing::Values(ShuffleMode::kNone,
                                         ShuffleMode::kGlobal,
                                         ShuffleMode::kBlock),
                       ::testing::Values(1, 4),
                       // 1 byte: every group goes over the budget.
                       ::testing::Values(uint64_t{1}, uint64_t{1} << 20)),
    [](const ::testing::TestParamInfo<Param>& info) {
      return absl::StrCat(ShuffleModeName(std::get<0>(info.param)), "_", std::get<1>(info.param), "threads_",
                          std::get<2>(info.param), "budget");
    });

TEST(RandomReaderErrorTest, SkipToPastTheEndOrAfterReadingIsRefused) {
  Dataset d = MakeDataset(22, 3, 10, 100);
  ReadPlan plan = MakeReadPlan(*d.index, PlanOptions{});
  const uint64_t n = plan.num_records();
  {
    RandomReader reader(d.index, plan, MapOpener(d.bytes), {});
    EXPECT_FALSE(reader.SkipTo(n + 1).ok());
  }
  {
    RandomReader reader(d.index, plan, MapOpener(d.bytes), {});
    std::string record;
    ASSERT_TRUE(ReadRecord(reader, &record).ok());
    EXPECT_FALSE(reader.SkipTo(0).ok());
    EXPECT_EQ(reader.position(), 1u);
  }
}

TEST(RandomReaderErrorTest, OpensNoFileBeforeTheFirstRead) {
  Dataset d = MakeDataset(23, 4, 10, 100);
  auto opens = std::make_shared<std::atomic<int>>(0);
  SourceOpener inner = MapOpener(d.bytes);
  SourceOpener counting = [opens, inner](const std::string& uri) {
    opens->fetch_add(1);
    return inner(uri);
  };
  RandomReader reader(d.index, MakeReadPlan(*d.index, PlanOptions{}), counting,
                      {});
  EXPECT_EQ(opens->load(), 0);
  std::string record;
  ASSERT_TRUE(ReadRecord(reader, &record).ok());
  EXPECT_GE(opens->load(), 1);
}

TEST(RandomReaderErrorTest, FileOfAnotherSizeIsFailedPreconditionNamingIt) {
  Dataset d = MakeDataset(24, 3, 10, 100);
  const std::string stale = d.Uri(2);
  d.bytes[stale] += tfrecord::FrameRecord("appended after indexing");
  PlanOptions o;
  o.shuffle = ShuffleMode::kGlobal;
  RandomReader reader(d.index, MakeReadPlan(*d.index, o), MapOpener(d.bytes),
                      {});
  ReadResult got = ReadAll(reader);
  EXPECT_TRUE(StatusIs(got.status, absl::StatusCode::kFailedPrecondition,
                       {stale}));
  // Records of the other files before the first of the stale one came out.
  EXPECT_LT(got.records.size(), d.index->num_records());
}

TEST(RandomReaderErrorTest, FileOfAnotherMtimeIsFailedPrecondition) {
  Dataset d = MakeDataset(25, 2, 10, 100);
  // Rebuild the index with mtimes; the source reports a later one.
  std::vector<IndexedFile> files = d.index->files();
  for (IndexedFile& f : files) f.mtime_ns = 1000;
  auto index = std::make_shared<const RecordIndex>(
      *RecordIndex::Create(files, d.index->lengths()));
  SourceOpener inner = MapOpener(d.bytes);
  for (int64_t mtime : {int64_t{1000}, int64_t{2000}}) {
    SCOPED_TRACE(absl::StrCat("mtime ", mtime));
    SourceOpener open = [inner, mtime](const std::string& uri)
        -> absl::StatusOr<std::unique_ptr<ByteSource>> {
      absl::StatusOr<std::unique_ptr<ByteSource>> s = inner(uri);
      if (!s.ok()) return s.status();
      return std::make_unique<TimedSource>(*std::move(s), mtime);
    };
    RandomReader reader(index, MakeReadPlan(*index, PlanOptions{}), open, {});
    ReadResult got = ReadAll(reader);
    if (mtime == 1000) {
      EXPECT_TRUE(absl::IsOutOfRange(got.status)) << got.status;
      EXPECT_EQ(got.records.size(), index->num_records());
    } else {
      EXPECT_TRUE(StatusIs(got.status, absl::StatusCode::kFailedPrecondition,
                           {d.Uri(0)}));
    }
  }
}

TEST(RandomReaderErrorTest, MissingFileIsNotFoundNamingIt) {
  Dataset d = MakeDataset(26, 3, 10, 100);
  d.bytes.erase(d.Uri(0));
  RandomReader reader(d.index, MakeReadPlan(*d.index, PlanOptions{}),
                      MapOpener(d.bytes), {});
  std::string record;
  EXPECT_TRUE(StatusIs(ReadRecord(reader, &record), absl::StatusCode::kNotFound,
                       {d.Uri(0)}));
}

TEST(RandomReaderErrorTest, IndexThatDisagreesWithTheFileIsAnErrorNamingIt) {
  // Same file size, different record boundaries: [10, 20] on disk, the
  // index says [20, 10].
  std::string bytes = FrameRecords({std::string(10, 'a'), std::string(20, 'b')});
  IndexedFile f;
  f.uri = "mem://d/swapped";
  f.size = bytes.size();
  f.num_records = 2;
  auto index =
      std::make_shared<const RecordIndex>(*RecordIndex::Create({f}, {20, 10}));
  RandomReader reader(index, MakeReadPlan(*index, PlanOptions{}),
                      MapOpener({{f.uri, bytes}}), {});
  std::string record;
  absl::Status s = ReadRecord(reader, &record);
  EXPECT_FALSE(s.ok()) << "returned a record of " << record.size()
                       << " bytes where the index says 20";
  EXPECT_TRUE(absl::StrContains(s.message(), f.uri)) << s;
}

TEST(RandomReaderErrorTest, CorruptRecordIsDataLossUnlessCrcsAreSkipped) {
  Dataset d = MakeDataset(27, 1, 5, 100);
  ASSERT_GT(d.records[0][0].size(), 0u) << "pick another seed";
  // Flip a byte of the first record's data.
  d.bytes[d.Uri(0)][tfrecord::kHeaderSize] ^= 0x01;
  ReadPlan plan = MakeReadPlan(*d.index, PlanOptions{});
  {
    RandomReader reader(d.index, plan, MapOpener(d.bytes), {});
    std::string record;
    EXPECT_TRUE(StatusIs(ReadRecord(reader, &record),
                         absl::StatusCode::kDataLoss, {d.Uri(0)}));
  }
  {
    RandomReaderOptions o;
    o.verify_crc = false;
    RandomReader reader(d.index, plan, MapOpener(d.bytes), o);
    std::string record;
    ASSERT_TRUE(ReadRecord(reader, &record).ok());
    EXPECT_NE(record, d.records[0][0]);
    EXPECT_EQ(record.size(), d.records[0][0].size());
  }
}

TEST(RandomReaderErrorTest, ReadErrorOfTheSourceIsReturned) {
  Dataset d = MakeDataset(28, 2, 20, 200);
  std::map<std::string, std::shared_ptr<const std::string>> files;
  for (auto& [uri, bytes] : d.bytes) {
    files[uri] = std::make_shared<const std::string>(bytes);
  }
  const uint64_t fail_at = d.bytes[d.Uri(0)].size() / 2;
  SourceOpener open = [&files, fail_at](const std::string& uri)
      -> absl::StatusOr<std::unique_ptr<ByteSource>> {
    StringSourceOptions o;
    if (uri == "mem://d/f0") o.fail_offset = fail_at;
    return std::make_unique<StringSource>(uri, files.at(uri), o);
  };
  RandomReader reader(d.index, MakeReadPlan(*d.index, PlanOptions{}), open, {});
  ReadResult got = ReadAll(reader);
  EXPECT_TRUE(StatusIs(got.status, absl::StatusCode::kUnavailable,
                       {"mem://d/f0"}));
  EXPECT_LT(got.records.size(), d.records[0].size());
}

TEST(RandomReaderTeardownTest, DestroyingMidReadDoesNotHangAndFreesBudget) {
  Dataset d = MakeDataset(29, 4, 60, 2000);
  std::map<std::string, std::shared_ptr<const std::string>> files;
  for (auto& [uri, bytes] : d.bytes) {
    files[uri] = std::make_shared<const std::string>(bytes);
  }
  SourceOpener slow = [&files](const std::string& uri)
      -> absl::StatusOr<std::unique_ptr<ByteSource>> {
    StringSourceOptions o;
    o.delay = absl::Milliseconds(2);  // keeps reads in flight
    return std::make_unique<StringSource>(uri, files.at(uri), o);
  };
  PlanOptions plan_options;
  plan_options.shuffle = ShuffleMode::kGlobal;
  plan_options.group_records = 4;
  ReadPlan plan = MakeReadPlan(*d.index, plan_options);
  const int64_t in_flight_before = BytesInFlight();
  for (int records_read : {0, 1, 5}) {
    SCOPED_TRACE(absl::StrCat(records_read, " records read"));
    RandomReaderOptions o;
    o.io_threads = 4;
    o.max_groups_ahead = 16;
    {
      RandomReader reader(d.index, plan, slow, o);
      for (int i = 0; i < records_read; ++i) {
        std::string record;
        ASSERT_TRUE(ReadRecord(reader, &record).ok());
      }
    }  // must return, with reads queued and running
    EXPECT_EQ(BytesInFlight(), in_flight_before);
  }
}

// A read hanging in a stalled request must not hang the reader's
// destruction: it returns after abandon_after and the read ends later.
TEST(RandomReaderTeardownTest, DestructionReturnsWhileAReadIsStalled) {
  Dataset d = MakeDataset(31, 3, 60, 2000);
  auto control = std::make_shared<StallControl>();
  std::map<std::string, std::string> bytes = d.bytes;
  const std::string stalled_uri = d.Uri(2);
  SourceOpener open = [bytes, control, stalled_uri](const std::string& uri)
      -> absl::StatusOr<std::unique_ptr<ByteSource>> {
    uint64_t stall_from = uri == stalled_uri ? 0 : UINT64_MAX;
    return std::make_unique<StallingSource>(uri, bytes.at(uri), stall_from,
                                            control);
  };
  RandomReaderOptions o;
  o.io_threads = 4;
  o.abandon_after = std::chrono::milliseconds(100);
  auto reader = std::make_unique<RandomReader>(
      d.index, MakeReadPlan(*d.index, PlanOptions{}), std::move(open), o);
  std::string record;
  ASSERT_TRUE(ReadRecord(*reader, &record).ok());
  ASSERT_TRUE(WaitFor([&] { return control->stalled > 0; }, absl::Seconds(5)));

  const absl::Time start = absl::Now();
  reader.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_GE(control->cancels, 1);

  control->Release();
  // The sources and the opener (all that hold `control`) are freed once the
  // stalled read has ended.
  EXPECT_TRUE(WaitFor([&] { return control.use_count() == 1; },
                      absl::Seconds(10)));
}

TEST(ReadIndexedRecordTest, ReadsAnyRecordByIdInAnyOrder) {
  Dataset d = MakeDataset(30, 5, 30, 3000);
  IndexedSources sources(d.index, MapOpener(d.bytes));
  std::vector<uint64_t> ids(d.index->num_records());
  for (uint64_t i = 0; i < ids.size(); ++i) ids[i] = i;
  std::shuffle(ids.begin(), ids.end(), std::mt19937(1));
  for (uint64_t id : ids) {
    std::string record;
    absl::Status s = ReadIndexedRecord(*d.index, &sources, id, true,
                                       [&record](size_t n) {
                                         record.resize(n);
                                         return record.data();
                                       });
    ASSERT_TRUE(s.ok()) << "record " << id << ": " << s;
    EXPECT_EQ(record, d.Record(id)) << "record " << id;
  }
}

TEST(ReadIndexedRecordTest, IdPastTheIndexIsOutOfRange) {
  Dataset d = MakeDataset(31, 2, 5, 10);
  IndexedSources sources(d.index, MapOpener(d.bytes));
  std::string record;
  auto allocate = [&record](size_t n) {
    record.resize(n);
    return record.data();
  };
  EXPECT_TRUE(absl::IsOutOfRange(ReadIndexedRecord(
      *d.index, &sources, d.index->num_records(), true, allocate)));
  EXPECT_TRUE(absl::IsOutOfRange(
      ReadIndexedRecord(*d.index, &sources, UINT64_MAX, true, allocate)));
}

TEST(ReadIndexedRecordTest, StaleFileIsFailedPreconditionNamingIt) {
  Dataset d = MakeDataset(32, 2, 5, 10);
  d.bytes[d.Uri(0)].pop_back();  // truncated since indexing
  IndexedSources sources(d.index, MapOpener(d.bytes));
  std::string record;
  absl::Status s = ReadIndexedRecord(*d.index, &sources, 0, true,
                                     [&record](size_t n) {
                                       record.resize(n);
                                       return record.data();
                                     });
  EXPECT_TRUE(StatusIs(s, absl::StatusCode::kFailedPrecondition, {d.Uri(0)}));
  absl::StatusOr<std::shared_ptr<const ByteSource>> source = sources.Get(0);
  EXPECT_TRUE(StatusIs(source.status(), absl::StatusCode::kFailedPrecondition,
                       {d.Uri(0)}));
}

TEST(IndexedSourcesTest, GetReturnsOneSharedSourcePerFile) {
  Dataset d = MakeDataset(33, 3, 5, 10);
  IndexedSources sources(d.index, MapOpener(d.bytes));
  absl::StatusOr<std::shared_ptr<const ByteSource>> a = sources.Get(2);
  absl::StatusOr<std::shared_ptr<const ByteSource>> b = sources.Get(2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ((*a)->uri(), d.Uri(2));
  EXPECT_EQ((*a)->size(), d.bytes[d.Uri(2)].size());
}

TEST(IndexedSourcesTest, KeepsAtMostMaxOpenClosingTheLeastRecentlyUsed) {
  Dataset d = MakeDataset(34, 5, 5, 10);
  auto opens = std::make_shared<std::map<std::string, int>>();
  SourceOpener inner = MapOpener(d.bytes);
  SourceOpener counting = [inner, opens](const std::string& uri) {
    ++(*opens)[uri];
    return inner(uri);
  };
  IndexedSources sources(d.index, counting, /*max_open=*/2);
  std::weak_ptr<const ByteSource> first;
  {
    absl::StatusOr<std::shared_ptr<const ByteSource>> s0 = sources.Get(0);
    ASSERT_TRUE(s0.ok());
    first = *s0;
  }
  ASSERT_TRUE(sources.Get(1).ok());
  ASSERT_TRUE(sources.Get(0).ok());  // now the most recent
  ASSERT_TRUE(sources.Get(2).ok());  // closes 1, the least recent
  EXPECT_FALSE(first.expired()) << "file 0 was used more recently than 1";
  ASSERT_TRUE(sources.Get(1).ok());  // opened again; closes 0
  EXPECT_TRUE(first.expired());
  EXPECT_EQ((*opens)[d.Uri(0)], 1);
  EXPECT_EQ((*opens)[d.Uri(1)], 2);
  EXPECT_EQ((*opens)[d.Uri(2)], 1);
  // A source still in use outlives its eviction.
  absl::StatusOr<std::shared_ptr<const ByteSource>> held = sources.Get(3);
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(sources.Get(4).ok());
  ASSERT_TRUE(sources.Get(0).ok());
  EXPECT_EQ((*held)->uri(), d.Uri(3));
}

}  // namespace
}  // namespace test
}  // namespace ffm
