#include "ffm/prefetch/page_buffer.h"

#include <cstring>
#include <utility>

#include "gtest/gtest.h"

namespace ffm {
namespace {

TEST(PageBufferTest, MapsWritableZeroedMemoryOfTheSize) {
  constexpr uint64_t kSize = 8 << 20;  // a chunk: marked for huge pages
  PageBuffer buffer = PageBuffer::Allocate(kSize);
  ASSERT_TRUE(buffer);
  EXPECT_EQ(buffer.size(), kSize);
  EXPECT_EQ(buffer.data()[kSize - 1], 0) << "fresh anonymous pages are zero";
  std::memset(buffer.data(), 0x5a, kSize);
  EXPECT_EQ(buffer.data()[0], 0x5a);
  EXPECT_EQ(buffer.data()[kSize - 1], 0x5a);
}

TEST(PageBufferTest, MovingHandsOverTheMappingOnce) {
  PageBuffer a = PageBuffer::Allocate(4096);
  char* mapped = a.data();
  a.data()[10] = 'x';
  PageBuffer b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the point
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(b.data(), mapped);
  EXPECT_EQ(b.data()[10], 'x');
  PageBuffer c = PageBuffer::Allocate(8192);
  c = std::move(b);  // unmaps c's own pages, takes b's
  EXPECT_EQ(c.data(), mapped);
  EXPECT_EQ(c.size(), 4096u);
}

TEST(PageBufferTest, ZeroBytesIsAnEmptyBuffer) {
  PageBuffer empty = PageBuffer::Allocate(0);
  EXPECT_FALSE(empty);
  EXPECT_EQ(empty.data(), nullptr);
}

}  // namespace
}  // namespace ffm
