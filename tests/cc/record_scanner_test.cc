// ScanRecords: one file's lengths, size and mtime from its framing, through
// the prefetcher at several chunk sizes; corrupt or truncated files are
// DataLoss naming the file and the offset.
#include "ffm/index/record_scanner.h"

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ffm/io/forwarding_source.h"
#include "ffm/prefetch/executor.h"
#include "ffm/tfrecord/format.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

class MtimeSource final : public ForwardingSource {
 public:
  MtimeSource(std::unique_ptr<ByteSource> inner, int64_t mtime_ns)
      : ForwardingSource(std::move(inner)), mtime_ns_(mtime_ns) {}
  int64_t mtime_ns() const override { return mtime_ns_; }

 private:
  const int64_t mtime_ns_;
};

std::vector<uint64_t> Lengths(const std::vector<std::string>& records) {
  std::vector<uint64_t> out;
  for (const std::string& r : records) out.push_back(r.size());
  return out;
}

using Param = std::tuple<uint64_t /*chunk_size*/, bool /*thread pool*/>;

class RecordScannerTest : public ::testing::TestWithParam<Param> {
 protected:
  RecordScannerTest()
      : pool_(std::get<1>(GetParam()) ? std::make_unique<ThreadPool>(3)
                                      : nullptr) {}

  PrefetchOptions Prefetch() const {
    PrefetchOptions o;
    o.chunk_size = std::get<0>(GetParam());
    o.first_chunk_size = std::max<uint64_t>(1, o.chunk_size / 4);
    o.max_in_flight = 3;
    return o;
  }

  absl::StatusOr<ScannedFile> Scan(const ByteSource& source) {
    return ScanRecords(source, Prefetch(), pool_.get());
  }

  std::unique_ptr<ThreadPool> pool_;
};

TEST_P(RecordScannerTest, FindsEveryRecordsLength) {
  std::vector<std::string> records = RandomRecords(5, 300, 3000);
  StringSource source("mem://d/a.tfrecord", FrameRecords(records));
  absl::StatusOr<ScannedFile> scanned = Scan(source);
  ASSERT_TRUE(scanned.ok()) << scanned.status();
  EXPECT_EQ(scanned->lengths, Lengths(records));
  EXPECT_EQ(scanned->file.uri, "mem://d/a.tfrecord");
  EXPECT_EQ(scanned->file.num_records, records.size());
  EXPECT_EQ(scanned->file.size, source.size());
}

TEST_P(RecordScannerTest, ScannedFileMakesAnIndexThatLocatesTheRecords) {
  std::vector<std::string> records = RandomRecords(6, 50, 5000);
  StringSource source("mem://d/b", FrameRecords(records));
  absl::StatusOr<ScannedFile> scanned = Scan(source);
  ASSERT_TRUE(scanned.ok()) << scanned.status();
  absl::StatusOr<RecordIndex> index =
      RecordIndex::Create({scanned->file}, scanned->lengths);
  ASSERT_TRUE(index.ok()) << index.status();
  std::vector<uint64_t> offsets = RecordOffsets(records);
  for (uint64_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(index->Locate(i).offset, offsets[i]);
  }
}

TEST_P(RecordScannerTest, EmptyFileHasNoRecords) {
  StringSource source("mem://d/empty", "");
  absl::StatusOr<ScannedFile> scanned = Scan(source);
  ASSERT_TRUE(scanned.ok()) << scanned.status();
  EXPECT_TRUE(scanned->lengths.empty());
  EXPECT_EQ(scanned->file.num_records, 0u);
  EXPECT_EQ(scanned->file.size, 0u);
}

TEST_P(RecordScannerTest, EmptyRecordsAreCounted) {
  std::vector<std::string> records = {"", "x", "", ""};
  StringSource source("mem://d/c", FrameRecords(records));
  absl::StatusOr<ScannedFile> scanned = Scan(source);
  ASSERT_TRUE(scanned.ok()) << scanned.status();
  EXPECT_EQ(scanned->lengths, (std::vector<uint64_t>{0, 1, 0, 0}));
}

TEST_P(RecordScannerTest, TruncatedFileIsDataLossNamingFileAndOffset) {
  std::vector<std::string> records = RandomRecords(7, 20, 500);
  const std::string bytes = FrameRecords(records);
  const std::vector<uint64_t> offsets = RecordOffsets(records);
  // Cut inside the last record's data, and inside its header.
  const uint64_t last = offsets[records.size() - 1];
  for (uint64_t cut : {bytes.size() - 1, last + 5}) {
    SCOPED_TRACE(absl::StrCat("cut at ", cut));
    StringSource source("mem://d/truncated", bytes.substr(0, cut));
    EXPECT_TRUE(StatusIs(Scan(source).status(), absl::StatusCode::kDataLoss,
                         {"mem://d/truncated", absl::StrCat(last)}));
  }
}

TEST_P(RecordScannerTest, CorruptDataIsDataLossNamingFileAndOffset) {
  std::vector<std::string> records = {std::string(100, 'a'),
                                      std::string(200, 'b'),
                                      std::string(50, 'c')};
  std::string bytes = FrameRecords(records);
  const uint64_t second = RecordOffsets(records)[1];
  bytes[second + tfrecord::kHeaderSize + 10] ^= 0x20;
  StringSource source("mem://d/corrupt", bytes);
  EXPECT_TRUE(StatusIs(Scan(source).status(), absl::StatusCode::kDataLoss,
                       {"mem://d/corrupt", absl::StrCat(second)}));
}

TEST_P(RecordScannerTest, CorruptLengthIsDataLoss) {
  std::vector<std::string> records = {"first", "second"};
  std::string bytes = FrameRecords(records);
  const uint64_t second = RecordOffsets(records)[1];
  bytes[second] ^= 0x04;  // the length no longer matches its CRC
  StringSource source("mem://d/length", bytes);
  EXPECT_TRUE(StatusIs(Scan(source).status(), absl::StatusCode::kDataLoss,
                       {"mem://d/length", absl::StrCat(second)}));
}

INSTANTIATE_TEST_SUITE_P(
    ChunkSizes, RecordScannerTest,
    ::testing::Combine(::testing::Values(uint64_t{64}, uint64_t{4096},
                                         uint64_t{1} << 20),
                       ::testing::Bool()),
    [](const ::testing::TestParamInfo<Param>& info) {
      return absl::StrCat(std::get<0>(info.param), "bytes_",
                          std::get<1>(info.param) ? "pool" : "sync");
    });

TEST(RecordScannerMtimeTest, TakesSizeAndMtimeFromTheSource) {
  auto inner = std::make_unique<StringSource>(
      "mem://d/m", FrameRecords({"abc", "de"}));
  const uint64_t size = inner->size();
  MtimeSource source(std::move(inner), 1234567890123);
  absl::StatusOr<ScannedFile> scanned =
      ScanRecords(source, PrefetchOptions{}, nullptr);
  ASSERT_TRUE(scanned.ok()) << scanned.status();
  EXPECT_EQ(scanned->file.mtime_ns, 1234567890123);
  EXPECT_EQ(scanned->file.size, size);
  EXPECT_EQ(scanned->lengths, (std::vector<uint64_t>{3, 2}));
}

TEST(RecordScannerErrorTest, ReadErrorIsReturnedNamingTheFile) {
  StringSourceOptions o;
  o.fail_offset = 10;
  o.fail_code = absl::StatusCode::kPermissionDenied;
  StringSource source("mem://d/denied", FrameRecords({"abcdefghij"}), o);
  EXPECT_TRUE(StatusIs(ScanRecords(source, PrefetchOptions{}, nullptr).status(),
                       absl::StatusCode::kPermissionDenied, {"mem://d/denied"}));
}

}  // namespace
}  // namespace test
}  // namespace ffm
