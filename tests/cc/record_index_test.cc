// RecordIndex: Create checks counts and sizes, Locate gives prefix sums of
// framed sizes, Serialize/Parse round trip in the documented layout, and
// any truncated or corrupted index is DataLoss naming it.
#include "ffm/index/record_index.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ffm/index/index_writer.h"
#include "ffm/tfrecord/format.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

IndexedFile File(std::string uri, const std::vector<uint64_t>& lengths,
                 int64_t mtime_ns = 0, uint64_t slack = 0) {
  IndexedFile f;
  f.uri = std::move(uri);
  f.num_records = lengths.size();
  f.mtime_ns = mtime_ns;
  f.size = slack;
  for (uint64_t length : lengths) f.size += tfrecord::FramedSize(length);
  return f;
}

// Three files, the middle one empty; record ids 0..4.
const std::vector<std::vector<uint64_t>> kLengths = {{5, 0, 1000}, {}, {7, 3}};

RecordIndex Sample() {
  std::vector<IndexedFile> files = {
      File("/data/a.tfrecord", kLengths[0], 1700000000123456789),
      File("/data/empty.tfrecord", kLengths[1]),
      File("s3://bucket/c.tfrecord", kLengths[2], -5)};
  absl::StatusOr<RecordIndex> index =
      RecordIndex::Create(files, {5, 0, 1000, 7, 3});
  EXPECT_TRUE(index.ok()) << index.status();
  return *std::move(index);
}

void ExpectSameIndex(const RecordIndex& a, const RecordIndex& b) {
  ASSERT_EQ(a.files().size(), b.files().size());
  for (size_t i = 0; i < a.files().size(); ++i) {
    EXPECT_EQ(a.files()[i].uri, b.files()[i].uri);
    EXPECT_EQ(a.files()[i].size, b.files()[i].size);
    EXPECT_EQ(a.files()[i].mtime_ns, b.files()[i].mtime_ns);
    EXPECT_EQ(a.files()[i].num_records, b.files()[i].num_records);
  }
  EXPECT_EQ(a.lengths(), b.lengths());
  ASSERT_EQ(a.num_records(), b.num_records());
  for (uint64_t i = 0; i < a.num_records(); ++i) {
    EXPECT_EQ(a.Locate(i).file, b.Locate(i).file);
    EXPECT_EQ(a.Locate(i).offset, b.Locate(i).offset);
    EXPECT_EQ(a.Locate(i).length, b.Locate(i).length);
  }
}

TEST(RecordIndexTest, CreateKeepsFilesAndLengths) {
  RecordIndex index = Sample();
  EXPECT_EQ(index.num_records(), 5u);
  ASSERT_EQ(index.files().size(), 3u);
  EXPECT_EQ(index.files()[0].uri, "/data/a.tfrecord");
  EXPECT_EQ(index.files()[1].num_records, 0u);
  EXPECT_EQ(index.files()[2].mtime_ns, -5);
  EXPECT_EQ(index.lengths(), (std::vector<uint64_t>{5, 0, 1000, 7, 3}));
}

TEST(RecordIndexTest, LocateGivesPrefixSumsOfFramedSizesPerFile) {
  RecordIndex index = Sample();
  uint64_t id = 0;
  for (uint32_t f = 0; f < kLengths.size(); ++f) {
    uint64_t offset = 0;
    for (uint64_t length : kLengths[f]) {
      RecordLocation loc = index.Locate(id);
      EXPECT_EQ(loc.file, f) << "record " << id;
      EXPECT_EQ(loc.offset, offset) << "record " << id;
      EXPECT_EQ(loc.length, length) << "record " << id;
      offset += tfrecord::FramedSize(length);
      ++id;
    }
  }
  // Spelled out: 12 + 5 + 4 = 21, 21 + 16 = 37; record 3 skips the empty file.
  EXPECT_EQ(index.Locate(1).offset, 21u);
  EXPECT_EQ(index.Locate(2).offset, 37u);
  EXPECT_EQ(index.Locate(3).file, 2u);
  EXPECT_EQ(index.Locate(3).offset, 0u);
  EXPECT_EQ(index.Locate(4).offset, 23u);
}

TEST(RecordIndexTest, LocateMatchesTheOffsetsOfRealFraming) {
  std::vector<std::string> records = RandomRecords(3, 200, 5000);
  std::vector<uint64_t> lengths;
  for (const std::string& r : records) lengths.push_back(r.size());
  std::vector<uint64_t> offsets = RecordOffsets(records);
  IndexedFile f = File("mem://one", lengths);
  ASSERT_EQ(f.size, FrameRecords(records).size());
  absl::StatusOr<RecordIndex> index = RecordIndex::Create({f}, lengths);
  ASSERT_TRUE(index.ok()) << index.status();
  for (uint64_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(index->Locate(i).offset, offsets[i]) << "record " << i;
  }
}

TEST(RecordIndexTest, EmptyIndexIsValid) {
  absl::StatusOr<RecordIndex> none = RecordIndex::Create({}, {});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->num_records(), 0u);
  absl::StatusOr<RecordIndex> empty_files =
      RecordIndex::Create({File("a", {}), File("b", {})}, {});
  ASSERT_TRUE(empty_files.ok()) << empty_files.status();
  EXPECT_EQ(empty_files->files().size(), 2u);
}

TEST(RecordIndexTest, CreateRefusesMoreRecordsThanLengths) {
  IndexedFile f = File("mem://a", {1, 2, 3});
  EXPECT_TRUE(StatusIs(RecordIndex::Create({f}, {1, 2}).status(),
                       absl::StatusCode::kInvalidArgument, {}));
}

TEST(RecordIndexTest, CreateRefusesMoreLengthsThanRecords) {
  IndexedFile f = File("mem://a", {1, 2});
  f.size += tfrecord::FramedSize(3);  // room for the extra one
  EXPECT_TRUE(StatusIs(RecordIndex::Create({f}, {1, 2, 3}).status(),
                       absl::StatusCode::kInvalidArgument, {}));
}

TEST(RecordIndexTest, CreateRefusesRecordsThatOverrunTheirFile) {
  IndexedFile f = File("mem://short", {10, 20});
  f.size -= 1;
  EXPECT_TRUE(StatusIs(RecordIndex::Create({f}, {10, 20}).status(),
                       absl::StatusCode::kInvalidArgument, {"mem://short"}));
  // Bytes left over after the last record are allowed (a file being
  // appended to, indexed up to a point) ...
  IndexedFile longer = File("mem://long", {10, 20}, 0, /*slack=*/7);
  EXPECT_TRUE(RecordIndex::Create({longer}, {10, 20}).ok());
  // ... but a record may not borrow bytes from the next file.
  IndexedFile first = File("mem://first", {10});
  first.size -= 4;
  IndexedFile second = File("mem://second", {10}, 0, /*slack=*/4);
  EXPECT_TRUE(StatusIs(RecordIndex::Create({first, second}, {10, 10}).status(),
                       absl::StatusCode::kInvalidArgument, {"mem://first"}));
}

TEST(RecordIndexTest, CreateRefusesLengthsThatWouldOverflow) {
  // FramedSize(2^64 - 8) wraps to 8: it must not look like it fits.
  IndexedFile f;
  f.uri = "mem://huge";
  f.size = 100;
  f.num_records = 1;
  EXPECT_TRUE(StatusIs(RecordIndex::Create({f}, {UINT64_MAX - 7}).status(),
                       absl::StatusCode::kInvalidArgument, {"mem://huge"}));
  f.num_records = 2;
  EXPECT_TRUE(StatusIs(RecordIndex::Create({f}, {10, UINT64_MAX - 30}).status(),
                       absl::StatusCode::kInvalidArgument, {"mem://huge"}));
}

TEST(RecordIndexTest, SerializeFollowsTheDocumentedLayout) {
  RecordIndex index = Sample();
  const std::string bytes = index.Serialize();
  std::string table;
  for (const IndexedFile& f : index.files()) {
    table += index_format::EncodeFile(f);
  }
  const size_t files_at = 64 + 5 * 8 + 4;  // header, offsets, one block CRC
  ASSERT_EQ(bytes.size(), files_at + table.size());
  EXPECT_EQ(bytes.substr(0, 8), "TFFMIDX2");
  EXPECT_EQ(tfrecord::DecodeFixed64(&bytes[8]), 3u);   // files
  EXPECT_EQ(tfrecord::DecodeFixed64(&bytes[16]), 5u);  // records
  EXPECT_EQ(tfrecord::DecodeFixed64(&bytes[24]), RecordIndex::kBlockRecords);
  EXPECT_EQ(tfrecord::DecodeFixed64(&bytes[32]), files_at);
  EXPECT_EQ(tfrecord::DecodeFixed64(&bytes[40]), table.size());
  EXPECT_EQ(tfrecord::DecodeFixed32(&bytes[48]),
            tfrecord::MaskCrc(tfrecord::Crc32c(table)));
  EXPECT_EQ(tfrecord::DecodeFixed32(&bytes[52]),
            tfrecord::MaskCrc(tfrecord::Crc32c(bytes.substr(0, 52))));
  // Offsets of the records' headers, restarting at 0 in each file.
  const std::vector<uint64_t> offsets = {0, 21, 37, 0, 23};
  for (size_t i = 0; i < offsets.size(); ++i) {
    EXPECT_EQ(tfrecord::DecodeFixed64(&bytes[64 + 8 * i]), offsets[i]) << i;
  }
  EXPECT_EQ(tfrecord::DecodeFixed32(&bytes[104]),
            tfrecord::MaskCrc(tfrecord::Crc32c(bytes.substr(64, 40))));
  EXPECT_EQ(bytes.substr(files_at), table);
  // The first file: uri, size, mtime, count, end of its last record.
  EXPECT_EQ(tfrecord::DecodeFixed32(&table[0]), 16u);
  EXPECT_EQ(table.substr(4, 16), "/data/a.tfrecord");
  EXPECT_EQ(tfrecord::DecodeFixed64(&table[20]), index.files()[0].size);
  EXPECT_EQ(static_cast<int64_t>(tfrecord::DecodeFixed64(&table[28])),
            1700000000123456789);
  EXPECT_EQ(tfrecord::DecodeFixed64(&table[36]), 3u);
  EXPECT_EQ(tfrecord::DecodeFixed64(&table[44]), 37u + 1016u);
}

// The first layout, written by hand as earlier versions did.
std::string SampleV1() {
  auto u64 = [](uint64_t v) {
    std::string b(8, '\0');
    tfrecord::EncodeFixed64(&b[0], v);
    return b;
  };
  auto u32 = [](uint32_t v) {
    std::string b(4, '\0');
    tfrecord::EncodeFixed32(&b[0], v);
    return b;
  };
  RecordIndex sample = Sample();
  std::string out = "TFFMIDX1" + u64(3) + u64(5);
  for (const IndexedFile& f : sample.files()) {
    out += u32(f.uri.size()) + f.uri + u64(f.size) +
           u64(static_cast<uint64_t>(f.mtime_ns)) + u64(f.num_records);
  }
  for (uint64_t length : {5, 0, 1000, 7, 3}) out += u64(length);
  return out + u32(tfrecord::MaskCrc(tfrecord::Crc32c(out)));
}

TEST(RecordIndexTest, IndexesOfTheFirstLayoutAreStillRead) {
  absl::StatusOr<RecordIndex> parsed = RecordIndex::Parse(SampleV1(), "old.idx");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ExpectSameIndex(Sample(), *parsed);
  std::string corrupt = SampleV1();
  corrupt[30] ^= 1;
  EXPECT_TRUE(StatusIs(RecordIndex::Parse(corrupt, "old.idx").status(),
                       absl::StatusCode::kDataLoss, {"old.idx"}));
}

TEST(RecordIndexTest, SerializeParseRoundTrip) {
  RecordIndex index = Sample();
  const std::string bytes = index.Serialize();
  absl::StatusOr<RecordIndex> parsed = RecordIndex::Parse(bytes, "idx");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ExpectSameIndex(index, *parsed);
  EXPECT_EQ(parsed->Serialize(), bytes);
}

TEST(RecordIndexTest, RoundTripOfEmptyAndLargeIndexes) {
  absl::StatusOr<RecordIndex> empty = RecordIndex::Create({}, {});
  ASSERT_TRUE(empty.ok());
  absl::StatusOr<RecordIndex> parsed =
      RecordIndex::Parse(empty->Serialize(), "empty");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->num_records(), 0u);
  EXPECT_TRUE(parsed->files().empty());

  std::vector<IndexedFile> files;
  std::vector<uint64_t> lengths;
  for (int f = 0; f < 50; ++f) {
    std::vector<uint64_t> file_lengths;
    for (int r = 0; r < 200; ++r) file_lengths.push_back((f * 7919 + r * 31) % 4000);
    lengths.insert(lengths.end(), file_lengths.begin(), file_lengths.end());
    files.push_back(File(absl::StrCat("s3://b/part-", f), file_lengths, f));
  }
  absl::StatusOr<RecordIndex> large = RecordIndex::Create(files, lengths);
  ASSERT_TRUE(large.ok()) << large.status();
  absl::StatusOr<RecordIndex> large_parsed =
      RecordIndex::Parse(large->Serialize(), "large");
  ASSERT_TRUE(large_parsed.ok()) << large_parsed.status();
  ExpectSameIndex(*large, *large_parsed);
}

TEST(RecordIndexTest, EveryTruncationIsDataLossNamingTheIndex) {
  const std::string bytes = Sample().Serialize();
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<RecordIndex> parsed =
        RecordIndex::Parse(bytes.substr(0, n), "gs://b/data.idx");
    ASSERT_TRUE(StatusIs(parsed.status(), absl::StatusCode::kDataLoss,
                         {"gs://b/data.idx"}))
        << "truncated to " << n << " bytes";
  }
}

TEST(RecordIndexTest, EveryFlippedByteIsDataLossNamingTheIndex) {
  const std::string bytes = Sample().Serialize();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (char mask : {'\x01', '\x80'}) {
      std::string corrupt = bytes;
      corrupt[i] ^= mask;
      absl::StatusOr<RecordIndex> parsed =
          RecordIndex::Parse(corrupt, "/data/index");
      ASSERT_TRUE(StatusIs(parsed.status(), absl::StatusCode::kDataLoss,
                           {"/data/index"}))
          << "byte " << i << " ^ " << static_cast<int>(mask);
    }
  }
}

TEST(RecordIndexTest, TrailingBytesAreDataLoss) {
  std::string bytes = Sample().Serialize();
  bytes += "x";
  EXPECT_TRUE(StatusIs(RecordIndex::Parse(bytes, "idx").status(),
                       absl::StatusCode::kDataLoss, {"idx"}));
}

// `bytes` with its header and file table signed again, so that only the
// content checks can catch what is wrong with it.
std::string Resigned(std::string bytes) {
  index_format::Header h;
  h.num_files = tfrecord::DecodeFixed64(&bytes[8]);
  h.num_records = tfrecord::DecodeFixed64(&bytes[16]);
  h.block_records = tfrecord::DecodeFixed64(&bytes[24]);
  h.files_offset = tfrecord::DecodeFixed64(&bytes[32]);
  h.files_bytes = tfrecord::DecodeFixed64(&bytes[40]);
  if (h.files_offset <= bytes.size()) {
    h.files_crc = tfrecord::MaskCrc(
        tfrecord::Crc32c(absl::string_view(bytes).substr(h.files_offset)));
  }
  bytes.replace(0, 64, index_format::EncodeHeader(h));
  return bytes;
}

TEST(RecordIndexTest, WellSignedButInconsistentIndexesAreDataLoss) {
  const std::string good = Sample().Serialize();
  ASSERT_TRUE(RecordIndex::Parse(Resigned(good), "idx").ok());
  const uint64_t files_at = tfrecord::DecodeFixed64(&good[32]);

  struct Case {
    const char* what;
    std::string bytes;
  };
  std::vector<Case> cases;
  auto with_u64 = [&good](size_t at, uint64_t v) {
    std::string b = good;
    tfrecord::EncodeFixed64(&b[at], v);
    return b;
  };
  cases.push_back({"huge file count", with_u64(8, uint64_t{1} << 60)});
  cases.push_back({"huge record count", with_u64(16, UINT64_MAX)});
  cases.push_back({"one record fewer", with_u64(16, 4)});
  cases.push_back({"one record more", with_u64(16, 6)});
  cases.push_back({"no records per block", with_u64(24, 0)});
  cases.push_back({"file table elsewhere", with_u64(32, files_at - 4)});
  cases.push_back({"first file too short", with_u64(files_at + 20, 10)});
  cases.push_back({"first file's count too high", with_u64(files_at + 36, 4)});
  cases.push_back({"first file's end past its size",
                   with_u64(files_at + 44, uint64_t{1} << 40)});
  cases.push_back({"extra bytes", good + std::string(8, '\0')});
  cases.push_back({"uri length past the end", [&] {
                     std::string b = good;
                     tfrecord::EncodeFixed32(&b[files_at], 0x7fffffff);
                     return b;
                   }()});
  // Offsets that do not frame records, with the block's CRC made to match.
  for (auto [i, offset] : std::vector<std::pair<int, uint64_t>>{
           {0, 4}, {1, 10}, {2, 2000}, {4, 0}}) {
    std::string b = with_u64(64 + 8 * i, offset);
    tfrecord::EncodeFixed32(
        &b[104], tfrecord::MaskCrc(tfrecord::Crc32c(b.substr(64, 40))));
    cases.push_back({"offsets that do not frame records", b});
  }
  for (const Case& c : cases) {
    EXPECT_TRUE(StatusIs(RecordIndex::Parse(Resigned(c.bytes), "my.idx").status(),
                         absl::StatusCode::kDataLoss, {"my.idx"}))
        << c.what;
  }
}

// Opened in place, a corrupt block of offsets fails the records it holds
// (and only those), naming the index, when they are first located.
TEST(RecordIndexTest, OpenChecksEachBlockWhenFirstUsed) {
  const uint64_t n = RecordIndex::kBlockRecords + 100;
  std::vector<uint64_t> lengths(n, 10);
  absl::StatusOr<RecordIndex> built =
      RecordIndex::Create({File("mem://big", lengths)}, lengths);
  ASSERT_TRUE(built.ok()) << built.status();
  std::string bytes = built->Serialize();
  bytes[64 + 8 * 5] ^= 1;  // record 5's offset, in block 0
  absl::StatusOr<RecordIndex> opened =
      RecordIndex::Open(OwnedRegion(bytes), "s3://b/big.idx");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->num_records(), n);
  for (uint64_t i : {uint64_t{0}, uint64_t{5}, RecordIndex::kBlockRecords - 1}) {
    EXPECT_TRUE(StatusIs(opened->Find(i).status(), absl::StatusCode::kDataLoss,
                         {"s3://b/big.idx", "checksum"}))
        << "record " << i;
  }
  absl::StatusOr<RecordLocation> later = opened->Find(RecordIndex::kBlockRecords);
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->offset, RecordIndex::kBlockRecords * 26);
  EXPECT_EQ(later->length, 10u);
  EXPECT_TRUE(StatusIs(opened->CheckAll(), absl::StatusCode::kDataLoss,
                       {"s3://b/big.idx"}));
  EXPECT_TRUE(StatusIs(RecordIndex::Parse(bytes, "whole.idx").status(),
                       absl::StatusCode::kDataLoss, {"whole.idx"}));
}

TEST(RecordIndexTest, IndexWriterToFileMatchesCreate) {
  const std::string path = ::testing::TempDir() + "/writer_test.idx";
  absl::StatusOr<IndexWriter> writer = IndexWriter::ToFile(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  RecordIndex sample = Sample();
  uint64_t next = 0;
  const std::vector<uint64_t> lengths = {5, 0, 1000, 7, 3};
  for (const IndexedFile& f : sample.files()) {
    ASSERT_TRUE(writer->AddFile(f, absl::MakeConstSpan(lengths).subspan(
                                       next, f.num_records)).ok());
    next += f.num_records;
  }
  ASSERT_TRUE(writer->Finish().ok());
  absl::StatusOr<std::shared_ptr<const IndexRegion>> mapped = MapRegion(path);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ((*mapped)->bytes(), sample.Serialize());
  std::remove(path.c_str());
}

TEST(RecordIndexTest, NotAnIndexIsDataLoss) {
  // A TFRecord file handed in by mistake.
  EXPECT_TRUE(StatusIs(
      RecordIndex::Parse(FrameRecords({"abc", "defgh"}), "data.tfrecord")
          .status(),
      absl::StatusCode::kDataLoss, {"data.tfrecord"}));
  EXPECT_TRUE(StatusIs(RecordIndex::Parse("", "empty.idx").status(),
                       absl::StatusCode::kDataLoss, {"empty.idx"}));
}

}  // namespace
}  // namespace test
}  // namespace ffm
