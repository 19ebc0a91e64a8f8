// RecordReader over ChunkStream over ChunkPrefetcher over an in-memory
// source, with chunks far smaller than records so every framing field is
// split across chunk boundaries somewhere.
#include "ffm/tfrecord/record_reader.h"

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ffm/prefetch/executor.h"
#include "ffm/tfrecord/format.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

using tfrecord::kFooterSize;
using tfrecord::kHeaderSize;
using tfrecord::kLengthSize;

constexpr char kUri[] = "mem://bucket/part-00000.tfrecord";

std::string RecordOfSize(size_t n, char fill) { return std::string(n, fill); }

// Param: chunk size, threaded (ThreadPool) or synchronous (null executor).
class RecordReaderTest
    : public ::testing::TestWithParam<std::tuple<uint64_t, bool>> {
 protected:
  uint64_t chunk() const { return std::get<0>(GetParam()); }
  bool threaded() const { return std::get<1>(GetParam()); }

  StackOptions Options(bool verify_crc = true) const {
    StackOptions o;
    o.chunk_size = chunk();
    o.first_chunk_size = chunk();  // chunk boundaries at multiples of chunk()
    o.max_in_flight = 4;
    o.budget_bytes = 8 * chunk();
    o.verify_crc = verify_crc;
    o.executor = threaded() ? pool_.get() : nullptr;
    return o;
  }

  ReadResult Read(const std::string& bytes, bool verify_crc = true) {
    StringSource source(kUri, bytes);
    RecordStack stack(&source, Options(verify_crc));
    return ReadAll(stack.reader());
  }

  // Round trip: every record back byte for byte, then a clean end that names
  // the file and the end offset.
  void ExpectRoundTrip(const std::vector<std::string>& records) {
    std::string bytes = FrameRecords(records);
    StringSource source(kUri, bytes);
    RecordStack stack(&source, Options());
    std::vector<uint64_t> offsets = RecordOffsets(records);
    for (size_t i = 0; i < records.size(); ++i) {
      ASSERT_EQ(stack.reader().position(), offsets[i]);
      absl::StatusOr<std::string> r = ReadOne(stack.reader());
      ASSERT_TRUE(r.ok()) << "record " << i << ": " << r.status();
      ASSERT_EQ(*r, records[i]) << "record " << i;
    }
    EXPECT_EQ(stack.reader().position(), bytes.size());
    EXPECT_TRUE(StatusIs(ReadOne(stack.reader()).status(),
                         absl::StatusCode::kOutOfRange,
                         {kUri, absl::StrCat("offset ", bytes.size())}));
  }

  std::unique_ptr<ThreadPool> pool_ =
      std::get<1>(GetParam()) ? std::make_unique<ThreadPool>(3) : nullptr;
};

TEST_P(RecordReaderTest, EmptyFileIsCleanEnd) {
  ReadResult r = Read("");
  EXPECT_TRUE(r.records.empty());
  EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kOutOfRange,
                       {kUri, "offset 0"}));
}

TEST_P(RecordReaderTest, ZeroLengthRecords) {
  ExpectRoundTrip({"", "", "x", "", ""});
}

TEST_P(RecordReaderTest, RecordsAtAndAcrossChunkBoundaries) {
  // Framed sizes k*chunk - 1, k*chunk and k*chunk + 1 (where possible), so
  // some records start exactly on a chunk boundary and others straddle one.
  const int64_t c = chunk(), overhead = kHeaderSize + kFooterSize;
  std::vector<std::string> records;
  for (int64_t k = 1; k <= 3; ++k) {
    for (int64_t d : {0, 0, 1, -1, 0}) {
      int64_t n = k * c * ((overhead + c - 1) / c) - overhead + d;
      if (n >= 0) records.push_back(RecordOfSize(n, static_cast<char>('a' + k)));
    }
  }
  std::vector<uint64_t> offsets = RecordOffsets(records);
  int starts_on_boundary = 0, straddles = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (i > 0 && offsets[i] % c == 0) ++starts_on_boundary;
    if (offsets[i] / c != (offsets[i + 1] - 1) / c) ++straddles;
  }
  EXPECT_GT(starts_on_boundary, 0);
  EXPECT_GT(straddles, 0);
  ExpectRoundTrip(records);
}

TEST_P(RecordReaderTest, RecordsLargerThanAChunk) {
  ExpectRoundTrip({RecordOfSize(3 * chunk() + 5, 'p'), "q",
                   RecordOfSize(10 * chunk(), 'r'),
                   RecordOfSize(chunk() + 1, 's')});
}

TEST_P(RecordReaderTest, ManyRandomSizedRecords) {
  ExpectRoundTrip(RandomRecords(/*seed=*/42, 150, 3 * chunk() + 40));
}

// One flipped bit in the second of three records: the first comes back
// intact, then DataLoss naming the file and the second record's offset.
TEST_P(RecordReaderTest, BadCrcsAreDataLossNamingUriAndOffset) {
  std::vector<std::string> records = {"first", "second record", "third"};
  std::vector<uint64_t> offsets = RecordOffsets(records);
  struct Case {
    size_t byte;  // within the second record's frame
    const char* what;
  };
  for (Case c : {Case{0, "length CRC mismatch"},            // length field
                 Case{kLengthSize + 1, "length CRC mismatch"},  // its CRC
                 Case{kHeaderSize + 3, "data CRC mismatch"},    // data
                 Case{kHeaderSize + records[1].size() + 2,      // data CRC
                      "data CRC mismatch"}}) {
    SCOPED_TRACE(c.byte);
    std::string bytes = FrameRecords(records);
    bytes[offsets[1] + c.byte] ^= 0x01;
    ReadResult r = Read(bytes);
    ASSERT_EQ(r.records.size(), 1u);
    EXPECT_EQ(r.records[0], records[0]);
    EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kDataLoss,
                         {kUri, c.what, absl::StrCat("offset ", offsets[1])}));
  }
}

TEST_P(RecordReaderTest, CorruptFirstRecordHintsAtTheFormat) {
  std::string bytes = FrameRecords({"abc"});
  bytes[kHeaderSize] ^= 0x40;
  EXPECT_TRUE(StatusIs(Read(bytes).status, absl::StatusCode::kDataLoss,
                       {kUri, "offset 0", "compression_type"}));
}

TEST_P(RecordReaderTest, VerifyCrcFalseSkipsBothChecks) {
  std::vector<std::string> records = {"first", "second record", "third"};
  std::vector<uint64_t> offsets = RecordOffsets(records);
  std::string bytes = FrameRecords(records);
  bytes[offsets[0] + kLengthSize] ^= 0xff;       // length CRC of record 0
  bytes[offsets[1] + kHeaderSize + 2] ^= 0x20;   // data of record 1
  bytes[offsets[3] - 1] ^= 0x10;                 // data CRC of record 2
  ReadResult r = Read(bytes, /*verify_crc=*/false);
  EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kOutOfRange, {kUri}));
  std::vector<std::string> expected = records;
  expected[1][2] ^= 0x20;  // the bytes as stored, unchecked
  EXPECT_EQ(r.records, expected);
  // The same bytes with checking on stop at the first record.
  EXPECT_TRUE(StatusIs(Read(bytes).status, absl::StatusCode::kDataLoss,
                       {kUri, "offset 0"}));
}

// Cutting the file at any byte ends cleanly exactly at record boundaries and
// is DataLoss (naming the broken record's offset) everywhere else, always
// after the intact records and never with a wrong one.
TEST_P(RecordReaderTest, TruncationAtEveryByte) {
  std::vector<std::string> records = {"", "a", RecordOfSize(20, 'b'), "",
                                      RecordOfSize(33, 'c')};
  std::vector<uint64_t> offsets = RecordOffsets(records);
  const std::string bytes = FrameRecords(records);
  for (bool verify : {true, false}) {
    for (size_t cut = 0; cut <= bytes.size(); ++cut) {
      SCOPED_TRACE(absl::StrCat("cut at ", cut, " verify_crc ", verify));
      ReadResult r = Read(bytes.substr(0, cut), verify);
      size_t whole = 0;  // records entirely before the cut
      while (whole < records.size() && offsets[whole + 1] <= cut) ++whole;
      ASSERT_EQ(r.records.size(), whole);
      for (size_t i = 0; i < whole; ++i) ASSERT_EQ(r.records[i], records[i]);
      if (cut == offsets[whole]) {
        EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kOutOfRange,
                             {kUri, absl::StrCat("offset ", cut)}));
      } else {
        EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kDataLoss,
                             {kUri, absl::StrCat("offset ", offsets[whole])}));
      }
    }
  }
}

// A length field far beyond the file is rejected before `allocate` is
// called, so a corrupt header cannot make the reader allocate exabytes.
TEST_P(RecordReaderTest, BogusLengthIsDataLossWithoutAllocating) {
  const std::string good = tfrecord::FrameRecord("good");
  for (uint64_t length : {uint64_t{1} << 60, ~uint64_t{0}, uint64_t{100},
                          uint64_t{kFooterSize + 1}}) {
    for (bool verify : {false, true}) {
      SCOPED_TRACE(absl::StrCat("length ", length, " verify ", verify));
      // With verify on the length CRC must be right to reach the check.
      std::string bogus = tfrecord::FrameRecord("").substr(0, kHeaderSize);
      tfrecord::EncodeFixed64(&bogus[0], length);
      tfrecord::EncodeFixed32(
          &bogus[kLengthSize],
          verify ? tfrecord::MaskCrc(tfrecord::Crc32c(
                       absl::string_view(bogus.data(), kLengthSize)))
                 : 0x12345678u);
      std::string bytes = good + bogus + std::string(kFooterSize, 'z');
      StringSource source(kUri, bytes);
      RecordStack stack(&source, Options(verify));
      ASSERT_TRUE(ReadOne(stack.reader()).ok());
      int allocations = 0;
      absl::Status s = stack.reader().ReadRecord([&](size_t) -> char* {
        ++allocations;
        return nullptr;
      });
      EXPECT_EQ(allocations, 0);
      EXPECT_TRUE(StatusIs(s, absl::StatusCode::kDataLoss,
                           {kUri, absl::StrCat("offset ", good.size())}));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    ChunkSizes, RecordReaderTest,
    ::testing::Combine(::testing::Values(1, 7, 13, 4096), ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<uint64_t, bool>>& info) {
      return absl::StrCat("chunk", std::get<0>(info.param),
                          std::get<1>(info.param) ? "_pool" : "_sync");
    });

// One 24 MiB record: spans thousands of 4 KiB chunks, or a few 1 MiB ones
// while the window grows from its small first read.
TEST(RecordReaderLargeTest, OneRecordOf24MiB) {
  std::string record(24u << 20, '\0');
  std::mt19937_64 rng(7);
  for (size_t i = 0; i + 8 <= record.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&record[i], &v, 8);
  }
  const std::string bytes = tfrecord::FrameRecord(record);
  ThreadPool pool(4);
  for (auto [chunk, first, executor] :
       {std::tuple<uint64_t, uint64_t, Executor*>{4096, 4096, nullptr},
        {1u << 20, 64u << 10, &pool}}) {
    SCOPED_TRACE(chunk);
    StringSource source(kUri, bytes);
    StackOptions o;
    o.chunk_size = chunk;
    o.first_chunk_size = first;
    o.budget_bytes = 4 * chunk;
    o.executor = executor;
    RecordStack stack(&source, o);
    absl::StatusOr<std::string> r = ReadOne(stack.reader());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(*r == record);  // not EXPECT_EQ: no 24 MiB diff on failure
    EXPECT_TRUE(StatusIs(ReadOne(stack.reader()).status(),
                         absl::StatusCode::kOutOfRange, {kUri}));
  }
}

}  // namespace
}  // namespace test
}  // namespace ffm
