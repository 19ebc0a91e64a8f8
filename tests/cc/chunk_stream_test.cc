// ChunkStream: the chunks of a file as one stream, across chunk boundaries;
// Peek/Consume for decompressors; Skip; the chunk in use is the only one
// it holds.
#include "ffm/stream/chunk_stream.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

std::string Bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 23);
  return s;
}

struct Fixture {
  explicit Fixture(const std::string& data, uint64_t begin = 0,
                   uint64_t chunk = 7)
      : source("mem://f", data),
        budget(std::make_shared<ByteBudget>(1 << 20)) {
    PrefetchOptions o;
    o.chunk_size = chunk;
    o.first_chunk_size = 3;
    stream = std::make_unique<ChunkStream>(
        std::make_unique<ChunkPrefetcher>(&source, begin, o, nullptr, budget),
        begin);
  }
  StringSource source;
  std::shared_ptr<ByteBudget> budget;
  std::unique_ptr<ChunkStream> stream;
};

TEST(ChunkStreamTest, ReadsAcrossChunkBoundaries) {
  const std::string data = Bytes(100);
  Fixture f(data);
  std::string got;
  char buf[13];
  for (;;) {
    absl::StatusOr<size_t> n = f.stream->Read(sizeof(buf), buf);
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    got.append(buf, *n);
    EXPECT_EQ(f.stream->position(), got.size());
    EXPECT_EQ(f.stream->max_remaining(), data.size() - got.size());
  }
  EXPECT_EQ(got, data);
}

TEST(ChunkStreamTest, StartsAtAnOffset) {
  const std::string data = Bytes(50);
  Fixture f(data, /*begin=*/20);
  char buf[64];
  ASSERT_EQ(*f.stream->Read(64, buf), 30u);
  EXPECT_EQ(std::string(buf, 30), data.substr(20));
  EXPECT_EQ(f.stream->position(), 50u);
}

TEST(ChunkStreamTest, PeekConsumeAndSkip) {
  const std::string data = Bytes(40);
  Fixture f(data);
  absl::StatusOr<absl::string_view> piece = f.stream->Peek();
  ASSERT_TRUE(piece.ok());
  ASSERT_FALSE(piece->empty());
  EXPECT_EQ(*piece, absl::string_view(data).substr(0, piece->size()));
  f.stream->Consume(2);
  EXPECT_EQ(f.stream->position(), 2u);
  ASSERT_TRUE(f.stream->Skip(25).ok());
  char c;
  ASSERT_EQ(*f.stream->Read(1, &c), 1u);
  EXPECT_EQ(c, data[27]);
  EXPECT_EQ(f.stream->Skip(100).code(), absl::StatusCode::kDataLoss);
}

TEST(ChunkStreamTest, HoldsOnlyTheChunkInUse) {
  const std::string data = Bytes(1000);
  Fixture f(data, 0, /*chunk=*/100);
  char buf[10];
  for (int i = 0; i < 50; ++i) ASSERT_EQ(*f.stream->Read(10, buf), 10u);
  // Synchronous prefetcher: exactly one chunk's buffer is charged.
  EXPECT_EQ(f.budget->in_use(), ChunkBufferSize(100));
}

}  // namespace
}  // namespace test
}  // namespace ffm
