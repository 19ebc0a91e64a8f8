#include "ffm/prefetch/readahead_file.h"

#include <memory>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "test_util.h"

namespace ffm {
namespace {

using test::ReadStats;
using test::StringSource;
using test::StringSourceOptions;

constexpr uint64_t kKiB = 1024;

std::string Bytes(size_t n) {
  std::mt19937 rng(static_cast<unsigned>(n));
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

PrefetchOptions SmallChunks() {
  PrefetchOptions o;
  o.chunk_size = 64 * kKiB;
  o.first_chunk_size = 16 * kKiB;
  o.max_in_flight = 4;
  return o;
}

struct Fixture {
  explicit Fixture(const std::string& data, StringSourceOptions options = {})
      : stats(std::make_shared<ReadStats>()) {
    options.stats = stats;
    file = std::make_unique<ReadaheadFile>(
        std::make_unique<StringSource>("mem://f", data, options), SmallChunks(),
        &pool, std::make_shared<ByteBudget>(256 * kKiB));
  }
  std::shared_ptr<ReadStats> stats;
  ThreadPool pool{4};
  std::unique_ptr<ReadaheadFile> file;
};

// Sequential reads of every size, across chunk boundaries, equal the bytes;
// the last read is short at the end; past the end reads nothing.
TEST(ReadaheadFileTest, SequentialReadsReturnTheBytes) {
  const std::string data = Bytes(1000 * kKiB + 17);
  for (size_t step : {size_t{1000}, size_t{256 * kKiB}, size_t{70000}}) {
    Fixture f(data);
    std::string got;
    std::string buf(step, '\0');
    for (uint64_t at = 0;;) {
      auto n = f.file->Read(at, step, buf.data());
      ASSERT_TRUE(n.ok()) << n.status();
      if (*n == 0) break;
      got.append(buf.data(), *n);
      at += *n;
    }
    EXPECT_EQ(got, data) << "step " << step;
    // Readahead reads each byte once, in chunks, not once per call.
    EXPECT_EQ(f.stats->bytes.load(), data.size());
    EXPECT_LT(f.stats->reads.load(), 1 + static_cast<int>(data.size() / (16 * kKiB)));
  }
}

// A jump is one direct read of exactly the bytes asked for; reading on from
// there in sequence starts readahead again.
TEST(ReadaheadFileTest, JumpsReadDirectlyThenSequenceResumesReadahead) {
  const std::string data = Bytes(600 * kKiB);
  Fixture f(data);
  std::string buf(100, '\0');
  auto n = f.file->Read(500 * kKiB, 100, buf.data());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(buf, data.substr(500 * kKiB, 100));
  EXPECT_EQ(f.stats->reads.load(), 1);
  EXPECT_EQ(f.stats->bytes.load(), 100u);
  n = f.file->Read(10, 100, buf.data());  // another jump
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(buf, data.substr(10, 100));
  EXPECT_EQ(f.stats->bytes.load(), 200u);
  n = f.file->Read(110, 100, buf.data());  // in sequence: readahead
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(buf, data.substr(110, 100));
  EXPECT_GE(f.stats->bytes.load(), 200u + 16 * kKiB);
}

// A failed chunk read reaches the caller with the source's message (URI
// and offset); the next read starts afresh.
TEST(ReadaheadFileTest, ReadErrorsNameTheOffsetAndAreNotSticky) {
  const std::string data = Bytes(300 * kKiB);
  StringSourceOptions options;
  options.fail_offset = 200 * kKiB;
  Fixture f(data, options);
  std::string buf(300 * kKiB, '\0');
  auto n = f.file->Read(0, buf.size(), buf.data());
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(n.status().message().find("mem://f"), std::string::npos);
  n = f.file->Read(0, 1000, buf.data());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(buf.substr(0, 1000), data.substr(0, 1000));
}

}  // namespace
}  // namespace ffm
