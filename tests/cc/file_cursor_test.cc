// FileCursor: opened at the start, at any record boundary (of the inflated
// stream for ZLIB/GZIP) and at the end; an offset past the end of the file
// is DataLoss; the cursor gives its budget back when destroyed.
#include "ffm/reader/file_cursor.h"

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

const char* CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kZlib:
      return "zlib";
    case Compression::kGzip:
      return "gzip";
  }
  return "?";
}

using Param = std::tuple<Compression, bool /*thread pool*/>;

class FileCursorTest : public ::testing::TestWithParam<Param> {
 protected:
  FileCursorTest()
      : records_(RandomRecords(9, 60, 2000)),
        offsets_(RecordOffsets(records_)),
        framed_(FrameRecords(records_)),
        pool_(std::get<1>(GetParam()) ? std::make_unique<ThreadPool>(2)
                                      : nullptr),
        budget_(std::make_shared<ByteBudget>(64 << 10)) {}

  Compression compression() const { return std::get<0>(GetParam()); }

  std::unique_ptr<ByteSource> Source() const {
    std::string bytes = compression() == Compression::kNone
                            ? framed_
                            : Compress(framed_, compression());
    return std::make_unique<StringSource>("mem://d/cursor.tfrecord",
                                          std::move(bytes));
  }

  CursorOptions Options() const {
    CursorOptions o;
    o.compression = compression();
    o.prefetch.chunk_size = 4096;
    o.prefetch.first_chunk_size = 1024;
    o.prefetch.max_in_flight = 3;
    return o;
  }

  absl::StatusOr<std::unique_ptr<FileCursor>> Open(uint64_t position) {
    return FileCursor::Open(Source(), position, Options(), pool_.get(),
                            budget_);
  }

  // Reads to the end; the records, and the status that ended them.
  static ReadResult ReadRest(FileCursor& cursor) {
    ReadResult result;
    for (;;) {
      std::string record;
      result.status = cursor.ReadRecord([&record](size_t n) {
        record.resize(n);
        return record.data();
      });
      if (!result.status.ok()) return result;
      result.records.push_back(std::move(record));
    }
  }

  const std::vector<std::string> records_;
  const std::vector<uint64_t> offsets_;
  const std::string framed_;
  std::unique_ptr<ThreadPool> pool_;
  std::shared_ptr<ByteBudget> budget_;
};

TEST_P(FileCursorTest, OpenAtZeroReadsEveryRecord) {
  absl::StatusOr<std::unique_ptr<FileCursor>> cursor = Open(0);
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  EXPECT_EQ((*cursor)->uri(), "mem://d/cursor.tfrecord");
  EXPECT_EQ((*cursor)->position(), 0u);
  ReadResult got = ReadRest(**cursor);
  EXPECT_TRUE(absl::IsOutOfRange(got.status)) << got.status;
  EXPECT_TRUE(got.records == records_);
  EXPECT_EQ((*cursor)->position(), framed_.size());
}

TEST_P(FileCursorTest, OpenAtARecordBoundaryResumesThere) {
  for (size_t k : {size_t{1}, size_t{2}, records_.size() / 2,
                   records_.size() - 1}) {
    SCOPED_TRACE(absl::StrCat("record ", k));
    absl::StatusOr<std::unique_ptr<FileCursor>> cursor = Open(offsets_[k]);
    ASSERT_TRUE(cursor.ok()) << cursor.status();
    EXPECT_EQ((*cursor)->position(), offsets_[k]);
    ReadResult got = ReadRest(**cursor);
    EXPECT_TRUE(absl::IsOutOfRange(got.status)) << got.status;
    EXPECT_TRUE(got.records ==
                std::vector<std::string>(records_.begin() + k, records_.end()));
  }
}

TEST_P(FileCursorTest, PositionAdvancesRecordByRecord) {
  absl::StatusOr<std::unique_ptr<FileCursor>> cursor = Open(offsets_[3]);
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  for (size_t k = 3; k < 10; ++k) {
    EXPECT_EQ((*cursor)->position(), offsets_[k]);
    std::string record;
    ASSERT_TRUE((*cursor)
                    ->ReadRecord([&record](size_t n) {
                      record.resize(n);
                      return record.data();
                    })
                    .ok());
    EXPECT_EQ(record, records_[k]);
  }
}

TEST_P(FileCursorTest, OpenAtTheEndIsAtTheEnd) {
  absl::StatusOr<std::unique_ptr<FileCursor>> cursor = Open(framed_.size());
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  ReadResult got = ReadRest(**cursor);
  EXPECT_TRUE(absl::IsOutOfRange(got.status)) << got.status;
  EXPECT_TRUE(got.records.empty());
}

TEST_P(FileCursorTest, OpenPastTheEndIsDataLossNamingFileAndOffset) {
  const uint64_t past = framed_.size() + 100;
  absl::StatusOr<std::unique_ptr<FileCursor>> cursor = Open(past);
  std::vector<std::string> pieces = {"mem://d/cursor.tfrecord"};
  // A compressed file's position is in the inflated stream: the cursor finds
  // it is past the end only by inflating up to the end.
  if (compression() == Compression::kNone) pieces.push_back(absl::StrCat(past));
  EXPECT_TRUE(StatusIs(cursor.status(), absl::StatusCode::kDataLoss, pieces));
}

TEST_P(FileCursorTest, GivesItsBudgetBackWhenDestroyed) {
  {
    absl::StatusOr<std::unique_ptr<FileCursor>> cursor = Open(offsets_[5]);
    ASSERT_TRUE(cursor.ok()) << cursor.status();
    std::string record;
    ASSERT_TRUE((*cursor)
                    ->ReadRecord([&record](size_t n) {
                      record.resize(n);
                      return record.data();
                    })
                    .ok());
  }  // mid-file, with reads possibly in flight
  EXPECT_EQ(budget_->in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Compressions, FileCursorTest,
    ::testing::Combine(::testing::Values(Compression::kNone,
                                         Compression::kZlib,
                                         Compression::kGzip),
                       ::testing::Bool()),
    [](const ::testing::TestParamInfo<Param>& info) {
      return absl::StrCat(CompressionName(std::get<0>(info.param)),
                          std::get<1>(info.param) ? "_pool" : "_sync");
    });

TEST(FileCursorCorruptTest, OpenInsideARecordReadsGarbageAsDataLoss) {
  std::vector<std::string> records = RandomRecords(10, 5, 500);
  std::string framed = FrameRecords(records);
  CursorOptions o;
  absl::StatusOr<std::unique_ptr<FileCursor>> cursor = FileCursor::Open(
      std::make_unique<StringSource>("mem://d/x", framed), 3, o, nullptr,
      std::make_shared<ByteBudget>(1 << 20));
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  std::string record;
  EXPECT_TRUE(StatusIs((*cursor)->ReadRecord([&record](size_t n) {
                         record.resize(n);
                         return record.data();
                       }),
                       absl::StatusCode::kDataLoss, {"mem://d/x", "3"}));
}

}  // namespace
}  // namespace test
}  // namespace ffm
