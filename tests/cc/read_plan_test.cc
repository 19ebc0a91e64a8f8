// ReadPlan (whole epochs through test_util's MakeReadPlan, GroupsOf and
// EpochOrder) over none/global/block: each record exactly
// once per epoch, shards disjoint and covering, seeded orders, byte ranges
// that cover exactly their group's records within range_bytes.
#include "ffm/reader/read_plan.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ffm/tfrecord/format.h"
#include "test_util.h"

namespace ffm {
namespace {

using test::EpochOrder;
using test::GroupsOf;
using test::MakeReadPlan;

// An index over files of the given record lengths (no bytes needed: plans
// only look at the index). Files may be empty.
RecordIndex MakeIndex(const std::vector<std::vector<uint64_t>>& files) {
  std::vector<IndexedFile> indexed;
  std::vector<uint64_t> lengths;
  for (size_t f = 0; f < files.size(); ++f) {
    IndexedFile file;
    file.uri = absl::StrCat("mem://d/f", f);
    file.num_records = files[f].size();
    for (uint64_t length : files[f]) {
      file.size += tfrecord::FramedSize(length);
      lengths.push_back(length);
    }
    indexed.push_back(file);
  }
  absl::StatusOr<RecordIndex> index =
      RecordIndex::Create(std::move(indexed), std::move(lengths));
  EXPECT_TRUE(index.ok()) << index.status();
  return *std::move(index);
}

// Files with record lengths in [0, max_length]; file 2 is empty.
RecordIndex RandomIndex(uint32_t seed, int num_files, int max_records,
                        uint64_t max_length) {
  std::mt19937 rng(seed);
  std::vector<std::vector<uint64_t>> files(num_files);
  for (int f = 0; f < num_files; ++f) {
    if (f == 2) continue;
    int n = std::uniform_int_distribution<int>(1, max_records)(rng);
    for (int r = 0; r < n; ++r) {
      files[f].push_back(
          std::uniform_int_distribution<uint64_t>(0, max_length)(rng));
    }
  }
  return MakeIndex(files);
}

std::vector<uint64_t> Flatten(const ReadPlan& plan) {
  std::vector<uint64_t> out;
  for (const ReadGroup& g : GroupsOf(plan)) {
    out.insert(out.end(), g.records.begin(), g.records.end());
  }
  return out;
}

std::vector<uint64_t> Iota(uint64_t n) {
  std::vector<uint64_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}


// Checks what holds for every plan: groups are non-empty, and their ranges
// cover exactly the bytes of their records (each record inside one range,
// no extra bytes), sorted by (file, offset), each at most range_bytes (twice
// that for blocks) unless it holds a single larger record.
void ExpectRangesCoverGroups(const RecordIndex& index, const ReadPlan& plan,
                             const PlanOptions& o) {
  const std::vector<ReadGroup> groups = GroupsOf(plan);
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const ReadGroup& g = groups[gi];
    SCOPED_TRACE(absl::StrCat("group ", gi));
    EXPECT_FALSE(g.records.empty());
    uint64_t record_bytes = 0;
    std::vector<int> hits(g.ranges.size(), 0);
    for (uint64_t id : g.records) {
      RecordLocation loc = index.Locate(id);
      const uint64_t size = tfrecord::FramedSize(loc.length);
      record_bytes += size;
      int holders = 0;
      for (size_t ri = 0; ri < g.ranges.size(); ++ri) {
        const ByteRange& r = g.ranges[ri];
        if (r.file == loc.file && r.offset <= loc.offset &&
            loc.offset + size <= r.offset + r.length) {
          ++holders;
          ++hits[ri];
        }
      }
      EXPECT_EQ(holders, 1) << "record " << id;
    }
    uint64_t range_bytes = 0;
    for (size_t ri = 0; ri < g.ranges.size(); ++ri) {
      const ByteRange& r = g.ranges[ri];
      range_bytes += r.length;
      ASSERT_LT(r.file, index.files().size());
      EXPECT_LE(r.offset + r.length, index.files()[r.file].size);
      EXPECT_GE(hits[ri], 1) << "range " << ri << " holds no record";
      // Block mode reads each block whole: records starting within
      // range_bytes, so ending within twice that.
      const uint64_t limit = o.shuffle == ShuffleMode::kBlock
                                 ? 2 * o.range_bytes
                                 : o.range_bytes;
      if (hits[ri] > 1) {
        EXPECT_LE(r.length, limit) << "range " << ri;
      }
      if (ri > 0) {
        const ByteRange& p = g.ranges[ri - 1];
        EXPECT_TRUE(p.file < r.file ||
                    (p.file == r.file && p.offset + p.length <= r.offset))
            << "ranges not sorted and disjoint at " << ri;
      }
    }
    EXPECT_EQ(range_bytes, record_bytes) << "ranges fetch bytes of no record";
  }
}

using Param = std::tuple<ShuffleMode, uint64_t /*num_shards*/>;

class ReadPlanTest : public ::testing::TestWithParam<Param> {
 protected:
  ReadPlanTest() : index_(RandomIndex(7, 6, 60, 3000)) {}

  PlanOptions Options(uint64_t shard = 0) const {
    PlanOptions o;
    o.shuffle = std::get<0>(GetParam());
    o.num_shards = std::get<1>(GetParam());
    o.shard_index = shard;
    o.seed = 42;
    o.epoch = 3;
    o.range_bytes = 8192;
    o.group_records = 16;
    o.window_blocks = 3;
    return o;
  }

  const RecordIndex index_;
};

TEST_P(ReadPlanTest, ShardsTogetherYieldEveryRecordExactlyOnce) {
  const uint64_t n = index_.num_records();
  const uint64_t shards = std::get<1>(GetParam());
  std::vector<int> seen(n, 0);
  std::vector<uint64_t> sizes;
  for (uint64_t k = 0; k < shards; ++k) {
    ReadPlan plan = MakeReadPlan(index_, Options(k));
    std::vector<uint64_t> records = Flatten(plan);
    EXPECT_EQ(plan.num_records(), records.size());
    sizes.push_back(records.size());
    for (uint64_t id : records) {
      ASSERT_LT(id, n);
      ++seen[id];
    }
  }
  for (uint64_t id = 0; id < n; ++id) {
    EXPECT_EQ(seen[id], 1) << "record " << id;
  }
  auto [min, max] = std::minmax_element(sizes.begin(), sizes.end());
  EXPECT_LE(*max - *min, 1u) << "shard sizes differ by more than one";
}

TEST_P(ReadPlanTest, ShardsAreConsecutiveSlicesOfTheEpochsOrder) {
  PlanOptions whole = Options();
  whole.num_shards = 1;
  std::vector<uint64_t> order = EpochOrder(index_, whole);
  std::vector<uint64_t> joined;
  for (uint64_t k = 0; k < std::get<1>(GetParam()); ++k) {
    std::vector<uint64_t> shard = EpochOrder(index_, Options(k));
    joined.insert(joined.end(), shard.begin(), shard.end());
  }
  EXPECT_EQ(joined, order);
}

TEST_P(ReadPlanTest, EpochOrderIsThePlansRecordOrder) {
  for (uint64_t k = 0; k < std::get<1>(GetParam()); ++k) {
    EXPECT_EQ(Flatten(MakeReadPlan(index_, Options(k))),
              EpochOrder(index_, Options(k)))
        << "shard " << k;
  }
}

TEST_P(ReadPlanTest, RangesCoverEachGroupsRecordsWithinRangeBytes) {
  for (uint64_t k = 0; k < std::get<1>(GetParam()); ++k) {
    SCOPED_TRACE(absl::StrCat("shard ", k));
    ExpectRangesCoverGroups(index_, MakeReadPlan(index_, Options(k)),
                            Options(k));
  }
}

TEST_P(ReadPlanTest, SameOptionsGiveTheSamePlan) {
  for (uint64_t k = 0; k < std::get<1>(GetParam()); ++k) {
    ReadPlan a = MakeReadPlan(index_, Options(k));
    ReadPlan b = MakeReadPlan(index_, Options(k));
    const std::vector<ReadGroup> ga = GroupsOf(a), gb = GroupsOf(b);
    ASSERT_EQ(ga.size(), gb.size());
    EXPECT_EQ(a.num_records(), b.num_records());
    for (size_t g = 0; g < ga.size(); ++g) {
      EXPECT_EQ(ga[g].records, gb[g].records);
      ASSERT_EQ(ga[g].ranges.size(), gb[g].ranges.size());
      for (size_t r = 0; r < ga[g].ranges.size(); ++r) {
        EXPECT_EQ(ga[g].ranges[r].file, gb[g].ranges[r].file);
        EXPECT_EQ(ga[g].ranges[r].offset, gb[g].ranges[r].offset);
        EXPECT_EQ(ga[g].ranges[r].length, gb[g].ranges[r].length);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    ModesAndShards, ReadPlanTest,
    ::testing::Combine(::testing::Values(ShuffleMode::kNone,
                                         ShuffleMode::kGlobal,
                                         ShuffleMode::kBlock),
                       // 1000 shards: more shards than records.
                       ::testing::Values(1, 2, 3, 7, 1000)),
    [](const ::testing::TestParamInfo<Param>& info) {
      return absl::StrCat(ShuffleModeName(std::get<0>(info.param)), "_",
                          std::get<1>(info.param), "shards");
    });

TEST(ReadPlanOrderTest, NoneIsFileOrderWithRunsOfWholeRecords) {
  RecordIndex index = RandomIndex(11, 5, 40, 2000);
  PlanOptions o;
  o.shuffle = ShuffleMode::kNone;
  o.range_bytes = 4096;
  o.seed = 99;  // ignored without shuffling
  ReadPlan plan = MakeReadPlan(index, o);
  EXPECT_EQ(Flatten(plan), Iota(index.num_records()));
  for (const ReadGroup& g : GroupsOf(plan)) {
    // A run is one ranged read within one file.
    EXPECT_EQ(g.ranges.size(), 1u);
    for (size_t i = 1; i < g.records.size(); ++i) {
      EXPECT_EQ(g.records[i], g.records[i - 1] + 1);
    }
  }
  ExpectRangesCoverGroups(index, plan, o);
}

TEST(ReadPlanOrderTest, NoneGroupsAreAsLargeAsRangeBytesAllows) {
  // Ten records of 100 bytes (116 framed) in one file; 400 bytes hold three.
  RecordIndex index = MakeIndex({std::vector<uint64_t>(10, 100)});
  PlanOptions o;
  o.range_bytes = 400;
  ReadPlan plan = MakeReadPlan(index, o);
  std::vector<size_t> sizes;
  for (const ReadGroup& g : GroupsOf(plan)) sizes.push_back(g.records.size());
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 3, 1}));
  ASSERT_EQ(GroupsOf(plan).size(), 4u);
  EXPECT_EQ(GroupsOf(plan)[1].ranges[0].offset, 3 * 116u);
  EXPECT_EQ(GroupsOf(plan)[1].ranges[0].length, 3 * 116u);
}

TEST(ReadPlanOrderTest, RecordLargerThanRangeBytesIsReadWhole) {
  RecordIndex index = MakeIndex({{10, 50000, 10}});
  for (ShuffleMode mode :
       {ShuffleMode::kNone, ShuffleMode::kGlobal, ShuffleMode::kBlock}) {
    SCOPED_TRACE(ShuffleModeName(mode));
    PlanOptions o;
    o.shuffle = mode;
    o.range_bytes = 1024;
    ReadPlan plan = MakeReadPlan(index, o);
    std::vector<uint64_t> records = Flatten(plan);
    std::sort(records.begin(), records.end());
    EXPECT_EQ(records, Iota(3));
    ExpectRangesCoverGroups(index, plan, o);
  }
}

TEST(ReadPlanOrderTest, RangesNeverSpanTwoFiles) {
  // Tiny files: every file fits in one range many times over.
  RecordIndex index = MakeIndex({{1, 2}, {3}, {}, {4, 5, 6}, {7}});
  for (ShuffleMode mode :
       {ShuffleMode::kNone, ShuffleMode::kGlobal, ShuffleMode::kBlock}) {
    SCOPED_TRACE(ShuffleModeName(mode));
    PlanOptions o;
    o.shuffle = mode;
    o.range_bytes = 1 << 20;
    o.group_records = 1000;
    o.window_blocks = 1000;
    ReadPlan plan = MakeReadPlan(index, o);
    ExpectRangesCoverGroups(index, plan, o);
    std::set<uint32_t> files;
    for (const ReadGroup& g : GroupsOf(plan)) {
      for (const ByteRange& r : g.ranges) {
        EXPECT_TRUE(files.insert(r.file).second)
            << "file " << r.file << " read in two ranges";
      }
    }
    EXPECT_EQ(files, (std::set<uint32_t>{0, 1, 3, 4}));
  }
}

TEST(ReadPlanOrderTest, GlobalIsAPermutationInGroupsOfGroupRecords) {
  RecordIndex index = RandomIndex(12, 4, 100, 500);
  PlanOptions o;
  o.shuffle = ShuffleMode::kGlobal;
  o.seed = 5;
  o.group_records = 32;
  ReadPlan plan = MakeReadPlan(index, o);
  std::vector<uint64_t> order = Flatten(plan);
  EXPECT_NE(order, Iota(index.num_records())) << "not shuffled";
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order, Iota(index.num_records()));
  const std::vector<ReadGroup> groups = GroupsOf(plan);
  ASSERT_FALSE(groups.empty());
  for (size_t g = 0; g + 1 < groups.size(); ++g) {
    EXPECT_EQ(groups[g].records.size(), 32u) << "group " << g;
  }
  EXPECT_LE(groups.back().records.size(), 32u);
}

TEST(ReadPlanOrderTest, GlobalOrderDependsOnSeedAndEpoch) {
  RecordIndex index = RandomIndex(13, 4, 100, 500);
  PlanOptions o;
  o.shuffle = ShuffleMode::kGlobal;
  o.seed = 1;
  o.epoch = 0;
  std::vector<uint64_t> base = EpochOrder(index, o);
  EXPECT_EQ(EpochOrder(index, o), base) << "not deterministic";

  std::set<std::vector<uint64_t>> orders = {base};
  for (uint64_t epoch = 1; epoch < 5; ++epoch) {
    PlanOptions e = o;
    e.epoch = epoch;
    std::vector<uint64_t> order = EpochOrder(index, e);
    EXPECT_TRUE(orders.insert(order).second) << "epoch " << epoch;
    std::sort(order.begin(), order.end());
    EXPECT_EQ(order, Iota(index.num_records())) << "epoch " << epoch;
  }
  PlanOptions other_seed = o;
  other_seed.seed = 2;
  EXPECT_NE(EpochOrder(index, other_seed), base);
  // Seeds and epochs use all 64 bits.
  PlanOptions high_seed = o;
  high_seed.seed = 1 + (uint64_t{1} << 40);
  EXPECT_NE(EpochOrder(index, high_seed), base);
  PlanOptions high_epoch = o;
  high_epoch.epoch = uint64_t{1} << 40;
  EXPECT_NE(EpochOrder(index, high_epoch), base);
}

TEST(ReadPlanOrderTest, BlockModeShufflesBlocksAndReadsFewRangesPerGroup) {
  // 200 records of 100 bytes (116 framed) in two files: blocks of the 8 or
  // 9 records starting in each 1000 bytes.
  RecordIndex index = MakeIndex({std::vector<uint64_t>(120, 100),
                                 std::vector<uint64_t>(80, 100)});
  PlanOptions o;
  o.shuffle = ShuffleMode::kBlock;
  o.seed = 3;
  o.range_bytes = 1000;
  o.window_blocks = 4;
  ReadPlan plan = MakeReadPlan(index, o);
  std::vector<uint64_t> order = Flatten(plan);
  EXPECT_NE(order, Iota(index.num_records())) << "not shuffled";
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order, Iota(index.num_records()));
  ExpectRangesCoverGroups(index, plan, o);
  for (const ReadGroup& g : GroupsOf(plan)) {
    // A group is window_blocks blocks, each read whole: near-sequential I/O.
    EXPECT_LE(g.ranges.size(), 4u);
    EXPECT_LE(g.records.size(), 4u * 9u);
  }
  PlanOptions next_epoch = o;
  next_epoch.epoch = 1;
  EXPECT_NE(EpochOrder(index, next_epoch), EpochOrder(index, o));
}

TEST(ReadPlanOrderTest, EmptyIndexGivesAnEmptyPlan) {
  RecordIndex index = MakeIndex({{}, {}});
  for (ShuffleMode mode :
       {ShuffleMode::kNone, ShuffleMode::kGlobal, ShuffleMode::kBlock}) {
    PlanOptions o;
    o.shuffle = mode;
    o.num_shards = 3;
    o.shard_index = 1;
    ReadPlan plan = MakeReadPlan(index, o);
    EXPECT_EQ(plan.num_records(), 0u) << ShuffleModeName(mode);
    EXPECT_TRUE(GroupsOf(plan).empty()) << ShuffleModeName(mode);
    EXPECT_TRUE(EpochOrder(index, o).empty()) << ShuffleModeName(mode);
  }
}

TEST(ReadPlanOrderTest, ShardSizesFollowPositionsKNOverN) {
  RecordIndex index = MakeIndex({std::vector<uint64_t>(10, 1)});
  PlanOptions o;
  o.num_shards = 4;  // positions [0,2) [2,5) [5,7) [7,10)
  std::vector<std::vector<uint64_t>> expected = {
      {0, 1}, {2, 3, 4}, {5, 6}, {7, 8, 9}};
  for (uint64_t k = 0; k < 4; ++k) {
    o.shard_index = k;
    EXPECT_EQ(EpochOrder(index, o), expected[k]) << "shard " << k;
    EXPECT_EQ(MakeReadPlan(index, o).num_records(), expected[k].size());
  }
}

}  // namespace
}  // namespace ffm
