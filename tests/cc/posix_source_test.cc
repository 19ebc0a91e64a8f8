// PosixSource: size and mtime from the file, ReadAt at any offset (short at
// the end of the file), the error codes of Open, and correct bytes when many
// threads read one source at once.
#include "ffm/io/posix_source.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

class PosixSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "posix_source_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  std::string Write(const std::string& name, const std::string& bytes) {
    std::string path = dir_ + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    EXPECT_TRUE(out.good()) << path;
    return path;
  }

  std::unique_ptr<ByteSource> OpenOk(const std::string& path) {
    absl::StatusOr<std::unique_ptr<ByteSource>> source = PosixSource::Open(path);
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *std::move(source) : nullptr;
  }

  std::string dir_;
};

std::string RandomBytes(uint32_t seed, size_t n) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// ReadAt into a string of `n` bytes, trimmed to what was read.
absl::StatusOr<std::string> Read(const ByteSource& source, uint64_t offset,
                                 size_t n) {
  std::string out(n, '\0');
  absl::StatusOr<size_t> got = source.ReadAt(offset, n, out.data());
  if (!got.ok()) return got.status();
  if (*got > n) return absl::InternalError("ReadAt returned more than asked");
  out.resize(*got);
  return out;
}

TEST_F(PosixSourceTest, SizeAndUriAreTheFiles) {
  std::string path = Write("a.tfrecord", RandomBytes(1, 12345));
  std::unique_ptr<ByteSource> source = OpenOk(path);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->size(), 12345u);
  EXPECT_EQ(source->uri(), path);
}

TEST_F(PosixSourceTest, MtimeIsTheFilesInNanoseconds) {
  std::string path = Write("a.tfrecord", "abc");
  // A known time with a sub-second part, so a conversion that drops or
  // mis-scales nanoseconds shows.
  const struct timespec times[2] = {{1600000000, 123456789},
                                    {1600000000, 123456789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  const int64_t expected =
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  ASSERT_EQ(st.st_mtim.tv_sec, 1600000000);

  std::unique_ptr<ByteSource> source = OpenOk(path);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->mtime_ns(), expected);
}

TEST_F(PosixSourceTest, SizeIsFixedWhenOpened) {
  std::string path = Write("a.tfrecord", "0123456789");
  std::unique_ptr<ByteSource> source = OpenOk(path);
  ASSERT_NE(source, nullptr);
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << "more bytes";
  }
  EXPECT_EQ(source->size(), 10u);
}

TEST_F(PosixSourceTest, ReadAtReturnsTheBytesAtAnyOffset) {
  const std::string bytes = RandomBytes(2, 100000);
  std::unique_ptr<ByteSource> source = OpenOk(Write("a", bytes));
  ASSERT_NE(source, nullptr);
  const std::vector<std::pair<uint64_t, size_t>> reads = {
      {0, 1},     {0, 100000}, {1, 4095}, {4095, 2},
      {4096, 8192}, {54321, 1}, {99999, 1}, {12345, 0}};
  for (auto [offset, n] : reads) {
    absl::StatusOr<std::string> got = Read(*source, offset, n);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, bytes.substr(offset, n))
        << "ReadAt(" << offset << ", " << n << ")";
  }
}

TEST_F(PosixSourceTest, ReadAtIsShortOnlyAtTheEndOfTheFile) {
  const std::string bytes = RandomBytes(3, 1000);
  std::unique_ptr<ByteSource> source = OpenOk(Write("a", bytes));
  ASSERT_NE(source, nullptr);

  absl::StatusOr<std::string> tail = Read(*source, 990, 100);
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_EQ(*tail, bytes.substr(990));

  absl::StatusOr<std::string> at_end = Read(*source, 1000, 10);
  ASSERT_TRUE(at_end.ok()) << at_end.status();
  EXPECT_EQ(at_end->size(), 0u);

  absl::StatusOr<std::string> past_end = Read(*source, 5000, 10);
  ASSERT_TRUE(past_end.ok()) << past_end.status();
  EXPECT_EQ(past_end->size(), 0u);
}

TEST_F(PosixSourceTest, EmptyFile) {
  std::unique_ptr<ByteSource> source = OpenOk(Write("empty", ""));
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->size(), 0u);
  absl::StatusOr<std::string> got = Read(*source, 0, 16);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size(), 0u);
}

TEST_F(PosixSourceTest, MissingFileIsNotFoundNamingThePath) {
  const std::string path = dir_ + "/no-such.tfrecord";
  absl::StatusOr<std::unique_ptr<ByteSource>> source = PosixSource::Open(path);
  EXPECT_TRUE(StatusIs(source.status(), absl::StatusCode::kNotFound, {path}));
}

TEST_F(PosixSourceTest, MissingDirectoryIsNotFound) {
  const std::string path = dir_ + "/no-such-dir/a.tfrecord";
  absl::StatusOr<std::unique_ptr<ByteSource>> source = PosixSource::Open(path);
  EXPECT_TRUE(StatusIs(source.status(), absl::StatusCode::kNotFound, {path}));
}

TEST_F(PosixSourceTest, DirectoryIsInvalidArgumentNamingThePath) {
  const std::string path = dir_ + "/sub";
  ASSERT_EQ(::mkdir(path.c_str(), 0755), 0);
  absl::StatusOr<std::unique_ptr<ByteSource>> source = PosixSource::Open(path);
  EXPECT_TRUE(
      StatusIs(source.status(), absl::StatusCode::kInvalidArgument, {path}));
}

TEST_F(PosixSourceTest, UnreadableFileIsPermissionDenied) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files of any mode";
  std::string path = Write("secret", "abc");
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  absl::StatusOr<std::unique_ptr<ByteSource>> source = PosixSource::Open(path);
  EXPECT_TRUE(
      StatusIs(source.status(), absl::StatusCode::kPermissionDenied, {path}));
}

TEST_F(PosixSourceTest, ConcurrentReadsFromManyThreadsGetTheirOwnBytes) {
  const std::string bytes = RandomBytes(4, 1 << 20);
  std::unique_ptr<ByteSource> source = OpenOk(Write("big", bytes));
  ASSERT_NE(source, nullptr);
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      std::string buffer;
      for (int i = 0; i < 200; ++i) {
        uint64_t offset = rng() % (bytes.size() + 100);  // some past the end
        size_t n = 1 + rng() % 20000;
        buffer.assign(n, '\0');
        absl::StatusOr<size_t> got = source->ReadAt(offset, n, buffer.data());
        if (!got.ok()) {
          failed.fetch_add(1);
          continue;
        }
        size_t expected = offset >= bytes.size()
                              ? 0
                              : std::min<size_t>(n, bytes.size() - offset);
        if (*got != expected ||
            buffer.compare(0, expected, bytes, std::min<uint64_t>(offset, bytes.size()),
                           expected) != 0) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(PosixSourceTest, ManySourcesOpenAndCloseWithoutLeakingDescriptors) {
  std::string path = Write("a", RandomBytes(5, 4096));
  // Far more than the usual 1024-descriptor soft limit: a source that kept
  // its descriptors after destruction would run out.
  for (int i = 0; i < 3000; ++i) {
    std::unique_ptr<ByteSource> source = OpenOk(path);
    ASSERT_NE(source, nullptr);
    char c;
    ASSERT_TRUE(source->ReadAt(i % 4096, 1, &c).ok());
  }
}

// The source's size and mtime are fixed at Open; every read should see that
// same file, even when its path is replaced meanwhile (a writer renaming a
// new version over it). Today it does not: a read that finds every
// descriptor busy opens the *path* again and reads the new file (and a
// deleted file makes it fail with NotFound). Disabled until PosixSource
// reopens the file it opened (e.g. /proc/self/fd/N, or checks st_dev/st_ino
// and falls back to the first descriptor). Run with
// --gtest_also_run_disabled_tests to see it fail.
TEST_F(PosixSourceTest, ReadsSeeTheOpenedFileAfterItsPathIsReplaced) {
  const std::string old_bytes = RandomBytes(6, 1 << 20);
  std::string path = Write("a", old_bytes);
  std::unique_ptr<ByteSource> source = OpenOk(path);
  ASSERT_NE(source, nullptr);
  std::string replacement = Write("a.new", RandomBytes(7, 1 << 20));
  ASSERT_EQ(std::rename(replacement.c_str(), path.c_str()), 0);

  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::string buffer(4096, '\0');
      for (int i = 0; i < 50; ++i) {
        uint64_t offset = (t * 50 + i) * 1024;
        absl::StatusOr<size_t> got =
            source->ReadAt(offset, buffer.size(), buffer.data());
        if (!got.ok()) {
          failed.fetch_add(1);
        } else if (buffer.compare(0, *got, old_bytes, offset, *got) != 0) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0) << "reads returned bytes of the replacing file";
}

}  // namespace
}  // namespace test
}  // namespace ffm
