// ParseCompression: exactly the names tf.data.TFRecordDataset accepts.
#include "ffm/stream/compression.h"

#include "gtest/gtest.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

TEST(CompressionTest, ParsesTheNamesTfDataAccepts) {
  absl::StatusOr<Compression> none = ParseCompression("");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, Compression::kNone);
  absl::StatusOr<Compression> zlib = ParseCompression("ZLIB");
  ASSERT_TRUE(zlib.ok()) << zlib.status();
  EXPECT_EQ(*zlib, Compression::kZlib);
  absl::StatusOr<Compression> gzip = ParseCompression("GZIP");
  ASSERT_TRUE(gzip.ok()) << gzip.status();
  EXPECT_EQ(*gzip, Compression::kGzip);
}

TEST(CompressionTest, AnythingElseIsInvalidArgumentNamingIt) {
  // No silent fallback to uncompressed: not for other spellings, not for
  // formats tf.data does not read, not for "NONE".
  for (const char* type : {"zlib", "gzip", "Gzip", "NONE", "none", " ", "GZIP ",
                           "BZIP2", "SNAPPY", "ZSTD"}) {
    EXPECT_TRUE(StatusIs(ParseCompression(type).status(),
                         absl::StatusCode::kInvalidArgument,
                         {std::string("'") + type + "'"}))
        << "'" << type << "'";
  }
}

}  // namespace
}  // namespace test
}  // namespace ffm
