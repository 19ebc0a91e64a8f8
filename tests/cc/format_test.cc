// The TFRecord format: framing sizes, CRC32C against published test vectors
// and a bitwise reference, masking, header and footer checks, and framing
// byte-equal to what TensorFlow's TFRecordWriter writes.
#include "ffm/tfrecord/format.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace ffm {
namespace tfrecord {
namespace {

static_assert(kHeaderSize == 12, "u64 length + u32 masked CRC");
static_assert(kFooterSize == 4, "u32 masked CRC");
static_assert(kFramingSize == kHeaderSize + kFooterSize, "");
static_assert(FramedSize(0) == 16, "usable in constant expressions");

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), one bit at a time:
// slow and obviously right, to check the table/instruction paths against.
uint32_t ReferenceCrc32c(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) {
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
  }
  return crc ^ 0xFFFFFFFFu;
}

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

TEST(FormatTest, FramedSizeAddsHeaderAndFooter) {
  EXPECT_EQ(FramedSize(0), 16u);
  EXPECT_EQ(FramedSize(1), 17u);
  EXPECT_EQ(FramedSize(1000), 1016u);
  EXPECT_EQ(FramedSize(uint64_t{1} << 40), (uint64_t{1} << 40) + 16);
}

TEST(FormatTest, Crc32cKnownVectors) {
  // The check value of CRC-32C, and the vectors of RFC 3720 (iSCSI), B.4.
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending(32, '\0'), descending(32, '\0');
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<char>(i);
    descending[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(descending), 0x113FDB5Cu);
}

TEST(FormatTest, Crc32cMatchesABitwiseReferenceAtEveryLength) {
  // Short lengths one by one (head/tail handling of the wide paths), then
  // long ones, at unaligned starts.
  std::mt19937 rng(1);
  const std::string buffer = RandomBytes(rng, 20000);
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 300; ++n) lengths.push_back(n);
  for (size_t n : {1023, 1024, 1025, 4096, 8191, 19990}) lengths.push_back(n);
  for (size_t n : lengths) {
    for (size_t start : {0, 1, 3, 7}) {
      std::string data = buffer.substr(start, n);
      ASSERT_EQ(Crc32c(data), ReferenceCrc32c(data))
          << "length " << n << " at " << start;
    }
  }
}

TEST(FormatTest, MaskCrcRotatesAndAddsTheDelta) {
  EXPECT_EQ(MaskCrc(0), kMaskDelta);
  EXPECT_EQ(kMaskDelta, 0xa282ead8u);
  // crc 0x00008000 rotated right by 15 is 1.
  EXPECT_EQ(MaskCrc(0x00008000u), 1u + kMaskDelta);
  EXPECT_EQ(MaskCrc(1), (1u << 17) + kMaskDelta);
  EXPECT_NE(MaskCrc(0x12345678u), 0x12345678u);
}

TEST(FormatTest, FixedEncodingIsLittleEndian) {
  char b[8];
  EncodeFixed64(b, 0x0102030405060708ull);
  EXPECT_EQ(std::string(b, 8), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
  EXPECT_EQ(DecodeFixed64(b), 0x0102030405060708ull);
  EncodeFixed32(b, 0xA1B2C3D4u);
  EXPECT_EQ(std::string(b, 4), std::string("\xD4\xC3\xB2\xA1", 4));
  EXPECT_EQ(DecodeFixed32(b), 0xA1B2C3D4u);
}

// Written by tf.io.TFRecordWriter (TensorFlow 2.x):
//   w.write(b"hello"); w.write(b"")
constexpr char kTensorFlowHello[] =
    "0500000000000000" "eab2043e" "68656c6c6f" "bb1f1c19";
constexpr char kTensorFlowEmpty[] = "0000000000000000" "29039807" "d8ea82a2";

TEST(FormatTest, FrameRecordIsByteEqualToTensorFlows) {
  EXPECT_EQ(absl::BytesToHexString(FrameRecord("hello")), kTensorFlowHello);
  EXPECT_EQ(absl::BytesToHexString(FrameRecord("")), kTensorFlowEmpty);
}

TEST(FormatTest, ParseHeaderOfTensorFlowsRecord) {
  const std::string framed = absl::HexStringToBytes(kTensorFlowHello);
  uint64_t length = 0;
  EXPECT_TRUE(ParseHeader(framed.data(), /*verify_crc=*/true, &length));
  EXPECT_EQ(length, 5u);
  EXPECT_TRUE(DataCrcMatches(framed.substr(kHeaderSize, 5),
                             framed.data() + kHeaderSize + 5));
}

TEST(FormatTest, ParseHeaderRejectsABadLengthCrc) {
  const std::string good = FrameRecord(std::string(300, 'x'));
  for (size_t i = 0; i < kHeaderSize; ++i) {
    std::string bad = good;
    bad[i] ^= 0x10;  // in the length or in its CRC
    uint64_t length = 0;
    EXPECT_FALSE(ParseHeader(bad.data(), /*verify_crc=*/true, &length))
        << "byte " << i;
    // Unverified, the length is taken as written.
    EXPECT_TRUE(ParseHeader(bad.data(), /*verify_crc=*/false, &length));
    EXPECT_EQ(length, DecodeFixed64(bad.data()));
  }
}

TEST(FormatTest, DataCrcMatchesOnlyTheRecordsData) {
  const std::string data = "some record bytes";
  const std::string framed = FrameRecord(data);
  const char* footer = framed.data() + kHeaderSize + data.size();
  EXPECT_TRUE(DataCrcMatches(data, footer));
  EXPECT_FALSE(DataCrcMatches("some record byteS", footer));
  EXPECT_FALSE(DataCrcMatches(data.substr(1), footer));
  std::string bad_footer(footer, kFooterSize);
  bad_footer[2] ^= 0x01;
  EXPECT_FALSE(DataCrcMatches(data, bad_footer.data()));
  // The footer holds the masked CRC, not the plain one.
  char plain[4];
  EncodeFixed32(plain, Crc32c(data));
  EXPECT_FALSE(DataCrcMatches(data, plain));
}

TEST(FormatTest, FrameRecordRoundTrips) {
  std::mt19937 rng(2);
  for (size_t n : {0, 1, 11, 12, 13, 255, 256, 4095, 4096, 100000}) {
    const std::string data = RandomBytes(rng, n);
    const std::string framed = FrameRecord(data);
    ASSERT_EQ(framed.size(), FramedSize(n));
    uint64_t length = 0;
    ASSERT_TRUE(ParseHeader(framed.data(), true, &length)) << n;
    EXPECT_EQ(length, n);
    EXPECT_EQ(framed.substr(kHeaderSize, n), data);
    EXPECT_TRUE(DataCrcMatches(data, framed.data() + kHeaderSize + n)) << n;
  }
}

}  // namespace
}  // namespace tfrecord
}  // namespace ffm
