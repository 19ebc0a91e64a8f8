// MemoryStream: reads buffered bytes as if they sat at `base` in their file.
#include "ffm/stream/memory_stream.h"

#include <string>

#include "gtest/gtest.h"

namespace ffm {
namespace {

TEST(MemoryStreamTest, ReadsWithFilePositions) {
  const std::string bytes = "0123456789";
  MemoryStream s(bytes, /*base=*/1000);
  EXPECT_EQ(s.position(), 1000u);
  EXPECT_EQ(s.max_remaining(), 10u);
  char out[16];
  ASSERT_EQ(*s.Read(4, out), 4u);
  EXPECT_EQ(std::string(out, 4), "0123");
  EXPECT_EQ(s.position(), 1004u);
  ASSERT_EQ(*s.Read(16, out), 6u);  // fewer only at the end
  EXPECT_EQ(std::string(out, 6), "456789");
  EXPECT_EQ(*s.Read(4, out), 0u);
  EXPECT_EQ(s.max_remaining(), 0u);
}

TEST(MemoryStreamTest, SeekAndSkipStayInsideTheBuffer) {
  const std::string bytes = "abcdefgh";
  MemoryStream s(bytes, 50);
  s.Seek(53);
  char c;
  ASSERT_EQ(*s.Read(1, &c), 1u);
  EXPECT_EQ(c, 'd');
  ASSERT_TRUE(s.Skip(2).ok());
  ASSERT_EQ(*s.Read(1, &c), 1u);
  EXPECT_EQ(c, 'g');
  EXPECT_EQ(s.Skip(5).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace ffm
