// ZlibStream under RecordReader: GZIP and ZLIB files read through tiny
// chunks, concatenated gzip members, corruption, truncation, the wrong
// compression type, and Skip() to a checkpointed position.
#include "ffm/stream/zlib_stream.h"

#include <algorithm>
#include <memory>
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

constexpr char kUri[] = "mem://bucket/part-00000.tfrecord.gz";

// Random (incompressible) records mixed with highly compressible ones, so
// the inflated stream runs far ahead of the compressed one in places.
std::vector<std::string> MixedRecords() {
  std::vector<std::string> records = RandomRecords(/*seed=*/5, 40, 300);
  for (int i = 0; i < 40; i += 3) records[i] = std::string(2000 + i, 'a' + i % 26);
  records[7] = "";
  return records;
}

bool IsPrefix(const std::vector<std::string>& got,
              const std::vector<std::string>& all) {
  return got.size() <= all.size() &&
         std::equal(got.begin(), got.end(), all.begin());
}

// Param: compression, chunk size, threaded.
class ZlibStreamTest
    : public ::testing::TestWithParam<std::tuple<Compression, uint64_t, bool>> {
 protected:
  Compression compression() const { return std::get<0>(GetParam()); }

  StackOptions Options(Compression compression, bool verify_crc = true) const {
    StackOptions o;
    o.chunk_size = std::get<1>(GetParam());
    o.first_chunk_size = 1;
    o.budget_bytes = 8 * o.chunk_size;
    o.compression = compression;
    o.verify_crc = verify_crc;
    o.executor = pool_.get();
    return o;
  }

  ReadResult Read(const std::string& bytes, Compression compression,
                  bool verify_crc = true) {
    StringSource source(kUri, bytes);
    RecordStack stack(&source, Options(compression, verify_crc));
    return ReadAll(stack.reader());
  }
  ReadResult Read(const std::string& bytes) {
    return Read(bytes, compression());
  }

  std::unique_ptr<ThreadPool> pool_ =
      std::get<2>(GetParam()) ? std::make_unique<ThreadPool>(3) : nullptr;
};

TEST_P(ZlibStreamTest, RoundTripThroughRecordReader) {
  const std::vector<std::string> records = MixedRecords();
  const std::vector<uint64_t> offsets = RecordOffsets(records);
  const std::string raw = FrameRecords(records);
  StringSource source(kUri, Compress(raw, compression()));
  ASSERT_LT(source.size(), raw.size());
  RecordStack stack(&source, Options(compression()));
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(stack.reader().position(), offsets[i]);  // inflated offsets
    absl::StatusOr<std::string> r = ReadOne(stack.reader());
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    ASSERT_EQ(*r, records[i]) << i;
  }
  EXPECT_TRUE(StatusIs(ReadOne(stack.reader()).status(),
                       absl::StatusCode::kOutOfRange,
                       {kUri, absl::StrCat("offset ", raw.size())}));
}

TEST_P(ZlibStreamTest, EmptyStreamsAreCleanEnd) {
  for (const std::string& bytes : {Compress("", compression()), std::string()}) {
    ReadResult r = Read(bytes);
    EXPECT_TRUE(r.records.empty());
    EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kOutOfRange,
                         {kUri, "offset 0"}));
  }
}

TEST_P(ZlibStreamTest, CorruptCompressedHeaderIsDataLoss) {
  std::string bytes = Compress(FrameRecords(MixedRecords()), compression());
  bytes[0] ^= 0x55;  // gzip magic / zlib CMF byte
  ReadResult r = Read(bytes);
  EXPECT_TRUE(r.records.empty());
  EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kDataLoss,
                       {kUri, "compressed byte offset",
                        "uncompressed offset 0", "compression_type"}));
}

// Damage anywhere in the compressed bytes is caught: by inflate, by the
// stream's own checksum, or by the record CRCs. Records before the damage
// come back intact and no wrong record ever does. Damage in the middle
// stops the records there; damage in the last bytes (the end of the deflate
// data or the gzip/zlib trailer) may only show after the last record.
TEST_P(ZlibStreamTest, CorruptCompressedBytesAreDataLoss) {
  const std::vector<std::string> records = MixedRecords();
  const std::string good = Compress(FrameRecords(records), compression());
  for (size_t at : {good.size() / 4, good.size() / 2, good.size() - 6,
                    good.size() - 1}) {
    SCOPED_TRACE(at);
    std::string bytes = good;
    bytes[at] ^= 0x24;
    ReadResult r = Read(bytes);
    EXPECT_TRUE(IsPrefix(r.records, records));
    if (at <= good.size() / 2) {
      EXPECT_LT(r.records.size(), records.size());
    }
    EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kDataLoss,
                         {kUri, "offset"}));
  }
}

// Cut anywhere but at 0 (an empty file) or the end, a compressed stream is
// truncated, even where the cut falls on a record boundary inside it.
TEST_P(ZlibStreamTest, TruncatedStreamIsDataLoss) {
  const std::vector<std::string> records = {"alpha", "", "gamma gamma",
                                            std::string(300, 'd')};
  const std::string good = Compress(FrameRecords(records), compression());
  for (size_t cut = 1; cut < good.size(); ++cut) {
    SCOPED_TRACE(cut);
    ReadResult r = Read(good.substr(0, cut));
    EXPECT_TRUE(IsPrefix(r.records, records));
    EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kDataLoss,
                         {kUri, "truncated",
                          absl::StrCat("compressed byte offset ", cut)}));
  }
}

TEST_P(ZlibStreamTest, UncompressedDataReadAsCompressedIsDataLoss) {
  ReadResult r = Read(FrameRecords(MixedRecords()));
  EXPECT_TRUE(r.records.empty());
  EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kDataLoss,
                       {kUri, "compression_type", "uncompressed offset 0"}));
}

TEST_P(ZlibStreamTest, CompressedDataReadAsUncompressedIsDataLoss) {
  ReadResult r = Read(Compress(FrameRecords(MixedRecords()), compression()),
                      Compression::kNone);
  EXPECT_TRUE(r.records.empty());
  EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kDataLoss,
                       {kUri, "offset 0", "compression_type"}));
}

// Restoring a checkpoint: skip to the k-th record's inflated offset, then
// read on from exactly there.
TEST_P(ZlibStreamTest, SkipThenContinueReading) {
  const std::vector<std::string> records = MixedRecords();
  const std::vector<uint64_t> offsets = RecordOffsets(records);
  const std::string bytes = Compress(FrameRecords(records), compression());
  for (size_t k : {size_t{0}, size_t{1}, size_t{17}, records.size() - 1,
                   records.size()}) {
    SCOPED_TRACE(k);
    StringSource source(kUri, bytes);
    RecordStack stack(&source, Options(compression()));
    ASSERT_TRUE(stack.stream().Skip(offsets[k]).ok());
    EXPECT_EQ(stack.reader().position(), offsets[k]);
    ReadResult r = ReadAll(stack.reader());
    EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kOutOfRange, {kUri}));
    EXPECT_EQ(r.records,
              std::vector<std::string>(records.begin() + k, records.end()));
  }
  StringSource source(kUri, bytes);
  RecordStack stack(&source, Options(compression()));
  EXPECT_TRUE(StatusIs(stack.stream().Skip(offsets.back() + 1),
                       absl::StatusCode::kDataLoss,
                       {kUri, absl::StrCat("offset ", offsets.back())}));
}

// max_remaining() bounds the inflated size, so a bogus length is rejected
// before anything is allocated even though the true size is unknown.
TEST_P(ZlibStreamTest, BogusLengthIsDataLossWithoutAllocating) {
  std::string raw = tfrecord::FrameRecord("ok") + tfrecord::FrameRecord("x");
  tfrecord::EncodeFixed64(&raw[tfrecord::FrameRecord("ok").size()],
                          uint64_t{1} << 50);
  StringSource source(kUri, Compress(raw, compression()));
  RecordStack stack(&source, Options(compression(), /*verify_crc=*/false));
  ASSERT_TRUE(ReadOne(stack.reader()).ok());
  int allocations = 0;
  absl::Status s = stack.reader().ReadRecord([&](size_t) -> char* {
    ++allocations;
    return nullptr;
  });
  EXPECT_EQ(allocations, 0);
  EXPECT_TRUE(StatusIs(s, absl::StatusCode::kDataLoss,
                       {kUri, absl::StrCat("offset ", tfrecord::FrameRecord("ok").size())}));
}

INSTANTIATE_TEST_SUITE_P(
    All, ZlibStreamTest,
    ::testing::Combine(::testing::Values(Compression::kGzip,
                                         Compression::kZlib),
                       ::testing::Values(1, 13, 4096), ::testing::Bool()),
    [](const auto& info) {
      return absl::StrCat(
          std::get<0>(info.param) == Compression::kGzip ? "gzip" : "zlib",
          "_chunk", std::get<1>(info.param),
          std::get<2>(info.param) ? "_pool" : "_sync");
    });

// Concatenated gzip members (as `cat a.gz b.gz` makes) read as one stream,
// whatever the member boundaries are relative to record boundaries.
TEST(ZlibStreamGzipTest, ConcatenatedMembersReadAsOneStream) {
  const std::vector<std::string> records = MixedRecords();
  const std::string raw = FrameRecords(records);
  for (size_t split : {RecordOffsets(records)[10], raw.size() / 3 + 1}) {
    for (uint64_t chunk : {1, 4096}) {
      SCOPED_TRACE(absl::StrCat("split ", split, " chunk ", chunk));
      std::string bytes = Compress(raw.substr(0, split), Compression::kGzip) +
                          Compress("", Compression::kGzip) +
                          Compress(raw.substr(split), Compression::kGzip, 9);
      StringSource source(kUri, bytes);
      StackOptions o;
      o.chunk_size = chunk;
      o.compression = Compression::kGzip;
      RecordStack stack(&source, o);
      ReadResult r = ReadAll(stack.reader());
      EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kOutOfRange, {kUri}));
      EXPECT_EQ(r.records, records);
    }
  }
}

TEST(ZlibStreamGzipTest, GarbageAfterLastMemberIsDataLoss) {
  const std::vector<std::string> records = {"one", "two"};
  std::string bytes = Compress(FrameRecords(records), Compression::kGzip);
  bytes += "not gzip";
  StringSource source(kUri, bytes);
  StackOptions o;
  o.compression = Compression::kGzip;
  RecordStack stack(&source, o);
  ReadResult r = ReadAll(stack.reader());
  EXPECT_EQ(r.records, records);
  EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kDataLoss,
                       {kUri, "compressed byte offset"}));
}

}  // namespace
}  // namespace test
}  // namespace ffm
