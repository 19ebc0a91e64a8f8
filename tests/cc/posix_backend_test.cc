// The POSIX storage backend: no settings, paths and file:// URIs open the
// same file, Write replaces the whole file without leaving a temporary
// behind, and its errors name the path.
#include "ffm/io/posix_backend.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

class PosixBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "posix_backend_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    absl::StatusOr<std::unique_ptr<StorageBackend>> backend =
        MakePosixBackend("");
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  absl::StatusOr<std::string> ReadBack(const std::string& uri) const {
    absl::StatusOr<std::unique_ptr<ByteSource>> source = backend_->Open(uri);
    if (!source.ok()) return source.status();
    std::string bytes((*source)->size(), '\0');
    absl::StatusOr<size_t> got =
        (*source)->ReadAt(0, bytes.size(), bytes.data());
    if (!got.ok()) return got.status();
    bytes.resize(*got);
    return bytes;
  }

  std::vector<std::string> DirNames() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir_;
  std::unique_ptr<StorageBackend> backend_;
};

TEST(PosixBackendSettingsTest, TakesNoSettings) {
  EXPECT_TRUE(MakePosixBackend("").ok());
  EXPECT_TRUE(StatusIs(MakePosixBackend("direct_io=true").status(),
                       absl::StatusCode::kInvalidArgument, {"direct_io=true"}));
}

TEST_F(PosixBackendTest, WriteThenOpenThroughAPathAndAFileUri) {
  const std::string path = Path("a.idx");
  ASSERT_TRUE(backend_->Write(path, "by path").ok());
  absl::StatusOr<std::string> read = ReadBack("file://" + path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "by path");

  ASSERT_TRUE(backend_->Write("file://" + path, "by uri").ok());
  read = ReadBack(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "by uri");
}

TEST_F(PosixBackendTest, WriteReplacesTheWholeFileAndLeavesNoTemporary) {
  const std::string path = Path("index.bin");
  std::string binary(100000, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i % 251);
  ASSERT_TRUE(backend_->Write(path, binary).ok());
  ASSERT_TRUE(backend_->Write(path, "shorter").ok());
  absl::StatusOr<std::string> read = ReadBack(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "shorter");
  ASSERT_TRUE(backend_->Write(path, "").ok());
  read = ReadBack(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "");
  EXPECT_EQ(DirNames(), std::vector<std::string>{"index.bin"});
}

TEST_F(PosixBackendTest, ASourceOpenedBeforeAWriteKeepsTheOldBytes) {
  // Write replaces the file (atomically, by rename) rather than rewriting it
  // in place, so a reader holding the old one never sees half a new index.
  const std::string path = Path("index.bin");
  ASSERT_TRUE(backend_->Write(path, "old contents").ok());
  absl::StatusOr<std::unique_ptr<ByteSource>> old = backend_->Open(path);
  ASSERT_TRUE(old.ok()) << old.status();
  ASSERT_TRUE(backend_->Write(path, "NEW CONTENTS").ok());
  std::string bytes(12, '\0');
  absl::StatusOr<size_t> got = (*old)->ReadAt(0, bytes.size(), bytes.data());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(bytes.substr(0, *got), "old contents");
}

TEST_F(PosixBackendTest, OpenMissingIsNotFoundNamingThePath) {
  const std::string path = Path("missing.tfrecord");
  for (const std::string& uri : {path, "file://" + path}) {
    EXPECT_TRUE(StatusIs(backend_->Open(uri).status(),
                         absl::StatusCode::kNotFound, {path}))
        << uri;
  }
}

TEST_F(PosixBackendTest, WriteIntoAMissingDirectoryIsNotFoundNamingIt) {
  const std::string path = Path("no-such-dir/index.bin");
  EXPECT_TRUE(StatusIs(backend_->Write(path, "abc"),
                       absl::StatusCode::kNotFound, {path}));
}

}  // namespace
}  // namespace test
}  // namespace ffm
