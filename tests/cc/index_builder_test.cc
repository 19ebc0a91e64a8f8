// BuildIndex: many files scanned num_workers at a time give the index of the
// files in the order named (offsets included); the first failing file in
// that order names the error; progress runs on the caller's thread and a
// non-OK return stops the build without starting the remaining files.
#include "ffm/index/index_builder.h"

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

struct Dataset {
  std::vector<std::string> uris;
  std::vector<std::vector<std::string>> records;  // per file
  std::map<std::string, std::string> bytes;       // uri -> framed file
};

Dataset MakeDataset(int num_files) {
  Dataset d;
  for (int f = 0; f < num_files; ++f) {
    std::string uri = absl::StrCat("mem://part-", f);
    // Every fourth file is empty: its records and offsets are skipped over.
    d.records.push_back(f % 4 == 1 ? std::vector<std::string>{}
                                   : RandomRecords(f, 5 + 7 * f, 300));
    d.bytes[uri] = FrameRecords(d.records.back());
    d.uris.push_back(uri);
  }
  return d;
}

IndexBuildOptions Options(int num_workers) {
  IndexBuildOptions o;
  o.num_workers = num_workers;
  o.prefetch.chunk_size = 256;
  o.prefetch.first_chunk_size = 64;
  o.prefetch.max_in_flight = 2;
  o.progress_interval = std::chrono::milliseconds(5);
  return o;
}

class IndexBuilderTest : public ::testing::TestWithParam<int /*num_workers*/> {};

TEST_P(IndexBuilderTest, IndexesFilesInTheOrderNamed) {
  Dataset d = MakeDataset(9);
  absl::StatusOr<RecordIndex> index =
      BuildIndex(d.uris, MapOpener(d.bytes), Options(GetParam()), nullptr);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_EQ(index->files().size(), d.uris.size());
  uint64_t record = 0;
  for (size_t f = 0; f < d.uris.size(); ++f) {
    const IndexedFile& file = index->files()[f];
    EXPECT_EQ(file.uri, d.uris[f]);
    EXPECT_EQ(file.size, d.bytes[d.uris[f]].size());
    ASSERT_EQ(file.num_records, d.records[f].size());
    std::vector<uint64_t> offsets = RecordOffsets(d.records[f]);
    for (size_t r = 0; r < d.records[f].size(); ++r, ++record) {
      EXPECT_EQ(index->lengths()[record], d.records[f][r].size());
      EXPECT_EQ(index->offsets()[record], offsets[r]);
      RecordLocation at = index->Locate(record);
      EXPECT_EQ(at.file, f);
      EXPECT_EQ(at.offset, offsets[r]);
    }
  }
  EXPECT_EQ(index->num_records(), record);
}

TEST_P(IndexBuilderTest, NoFilesIsAnEmptyIndex) {
  absl::StatusOr<RecordIndex> index =
      BuildIndex({}, MapOpener({}), Options(GetParam()), nullptr);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->num_records(), 0u);
  EXPECT_TRUE(index->files().empty());
}

TEST_P(IndexBuilderTest, FirstFailingFileInOrderNamesTheError) {
  Dataset d = MakeDataset(6);
  std::string& corrupt = d.bytes[d.uris[2]];
  corrupt[corrupt.size() / 2] ^= 0x5a;  // inside some record: a CRC fails
  std::vector<std::string> uris = d.uris;
  uris.insert(uris.begin() + 4, "mem://missing");
  absl::StatusOr<RecordIndex> index =
      BuildIndex(uris, MapOpener(d.bytes), Options(GetParam()), nullptr);
  // With one worker the scan stops at the corrupt file; with more, the
  // missing file may fail too, but the corrupt one comes first.
  EXPECT_EQ(index.status().code(), absl::StatusCode::kDataLoss) << index.status();
  EXPECT_NE(index.status().message().find(d.uris[2]), std::string::npos);
}

TEST_P(IndexBuilderTest, ProgressCountsFilesOnTheCallersThread) {
  Dataset d = MakeDataset(7);
  std::vector<size_t> seen;
  const std::thread::id caller = std::this_thread::get_id();
  absl::StatusOr<RecordIndex> index = BuildIndex(
      d.uris, MapOpener(d.bytes), Options(GetParam()), [&](size_t done) {
        EXPECT_EQ(std::this_thread::get_id(), caller);
        seen.push_back(done);
        return absl::OkStatus();
      });
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), d.uris.size());
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LE(seen[i - 1], seen[i]);
}

TEST_P(IndexBuilderTest, AFailingProgressStopsTheBuild) {
  Dataset d = MakeDataset(40);
  SourceOpener inner = MapOpener(d.bytes);
  std::atomic<int> opened{0};
  std::atomic<bool> cancelled{false};
  // Each open waits for the cancellation, which comes once every worker has
  // one file under way (a progress tick may come before any has started):
  // no worker may then take another file.
  SourceOpener held = [&](const std::string& uri) {
    ++opened;
    while (!cancelled) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return inner(uri);
  };
  absl::StatusOr<RecordIndex> index =
      BuildIndex(d.uris, held, Options(GetParam()), [&](size_t) {
        while (opened < GetParam()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        cancelled = true;
        return absl::CancelledError("stop here");
      });
  EXPECT_EQ(index.status(), absl::CancelledError("stop here"));
  EXPECT_EQ(opened.load(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Workers, IndexBuilderTest, ::testing::Values(1, 3, 8));

}  // namespace
}  // namespace test
}  // namespace ffm
