// Storage: dispatch by URI scheme (SchemeOf, unknown and unsupported
// schemes), a backend that cannot be made failing only its own URIs, local
// files through paths and file:// URIs, whole-object reads and writes, and
// wrappers built on ForwardingSource. Nothing here contacts a network
// endpoint: s3:// URIs are only tried with options that make them fail first.
#include "ffm/io/storage.h"

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ffm/io/forwarding_source.h"
#include "ffm/io/storage_options.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

// ---- Scheme dispatch ----

TEST(StorageTest, SchemeOf) {
  EXPECT_EQ(Storage::SchemeOf("s3://bucket/key"), "s3");
  EXPECT_EQ(Storage::SchemeOf("gs://bucket/key"), "gs");
  EXPECT_EQ(Storage::SchemeOf("/data/a.tfrecord"), "");
  EXPECT_EQ(Storage::SchemeOf("relative/a.tfrecord"), "");
  EXPECT_EQ(Storage::SchemeOf("file:///data/a.tfrecord"), "");
  EXPECT_EQ(Storage::SchemeOf(""), "");
}

TEST(StorageTest, CreateRefusesOptionsForAnUnknownScheme) {
  StorageOptions o;
  o.by_scheme["gs"] = "project=p";
  EXPECT_TRUE(StatusIs(Storage::Create(o).status(),
                       absl::StatusCode::kInvalidArgument, {"gs"}));
  EXPECT_TRUE(StatusIs(Storage::Create("s3.region=x;hdfs.user=me").status(),
                       absl::StatusCode::kInvalidArgument, {"hdfs"}));
}

TEST(StorageTest, CreateRefusesOptionsThatDoNotParse) {
  EXPECT_TRUE(StatusIs(Storage::Create("region").status(),
                       absl::StatusCode::kInvalidArgument, {"region"}));
}

TEST(StorageTest, UnsupportedSchemeIsInvalidArgumentNamingTheUri) {
  absl::StatusOr<std::shared_ptr<Storage>> storage = Storage::Create("");
  ASSERT_TRUE(storage.ok()) << storage.status();
  const std::string uri = "gs://b/k";
  EXPECT_TRUE(StatusIs((*storage)->Open(uri).status(),
                       absl::StatusCode::kInvalidArgument, {uri}));
  EXPECT_TRUE(StatusIs((*storage)->ReadWhole(uri).status(),
                       absl::StatusCode::kInvalidArgument, {uri}));
  EXPECT_TRUE(StatusIs((*storage)->WriteWhole(uri, "x"),
                       absl::StatusCode::kInvalidArgument, {uri}));
  EXPECT_TRUE(StatusIs((*storage)->List("gs://b/*.tfrecord").status(),
                       absl::StatusCode::kInvalidArgument, {"gs://b"}));
  EXPECT_TRUE(StatusIs((*storage)->Opener()(uri).status(),
                       absl::StatusCode::kInvalidArgument, {uri}));
}

TEST(StorageTest, ListNeedsADirectoryAndAPattern) {
  absl::StatusOr<std::shared_ptr<Storage>> storage = Storage::Create("");
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_TRUE(StatusIs((*storage)->List("*.tfrecord").status(),
                       absl::StatusCode::kInvalidArgument, {"*.tfrecord"}));
}

// A bad option for one backend fails that backend's URIs only, when they
// are used, naming the URI; other storage keeps working.
TEST(StorageTest, BadS3OptionFailsOnlyS3Uris) {
  absl::StatusOr<std::shared_ptr<Storage>> storage =
      Storage::Create("s3.max_attempts=0");
  ASSERT_TRUE(storage.ok()) << storage.status();
  for (const std::string& uri : std::vector<std::string>{
           "s3://bucket/a.tfrecord", "s3://other/b"}) {
    EXPECT_TRUE(StatusIs((*storage)->Open(uri).status(),
                         absl::StatusCode::kInvalidArgument,
                         {uri, "max_attempts"}));
    EXPECT_TRUE(StatusIs((*storage)->WriteWhole(uri, "x"),
                         absl::StatusCode::kInvalidArgument, {uri}));
  }
  EXPECT_TRUE(StatusIs((*storage)->List("s3://bucket/*.tfrecord").status(),
                       absl::StatusCode::kInvalidArgument, {"s3://bucket"}));

  std::string tmpl = ::testing::TempDir() + "storage_test_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::string path = tmpl + "/local.tfrecord";
  ASSERT_TRUE((*storage)->WriteWhole(path, "local bytes").ok());
  absl::StatusOr<std::string> read = (*storage)->ReadWhole(path);
  EXPECT_TRUE(read.ok()) << read.status();
  if (read.ok()) {
    EXPECT_EQ(*read, "local bytes");
  }
  std::error_code ignored;
  std::filesystem::remove_all(tmpl, ignored);
}

TEST(StorageTest, UnknownS3OptionFailsS3UrisNamingTheOption) {
  absl::StatusOr<std::shared_ptr<Storage>> storage =
      Storage::Create("s3.no_such_option=1");
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_TRUE(StatusIs((*storage)->Open("s3://b/k").status(),
                       absl::StatusCode::kInvalidArgument,
                       {"s3://b/k", "no_such_option"}));
}

// ---- Local files ----

// A ForwardingSource that counts its reads and records its name in a shared
// log when read, to see which wrapper a read passed through first.
class CountingSource final : public ForwardingSource {
 public:
  CountingSource(std::unique_ptr<ByteSource> inner, std::string name,
                 std::shared_ptr<std::atomic<int>> reads,
                 std::shared_ptr<std::vector<std::string>> log)
      : ForwardingSource(std::move(inner)),
        name_(std::move(name)),
        reads_(std::move(reads)),
        log_(std::move(log)) {}

  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                char* dst) const override {
    reads_->fetch_add(1);
    if (log_ != nullptr) log_->push_back(name_);  // single-threaded tests
    return ForwardingSource::ReadAt(offset, n, dst);
  }
  const std::string& name() const { return name_; }

 private:
  const std::string name_;
  const std::shared_ptr<std::atomic<int>> reads_;
  const std::shared_ptr<std::vector<std::string>> log_;
};

class LocalStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "storage_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    absl::StatusOr<std::shared_ptr<Storage>> storage = Storage::Create("");
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = *std::move(storage);
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  void WriteFile(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << path;
  }
  static std::string ReadFrom(const ByteSource& source) {
    std::string bytes(source.size(), '\0');
    absl::StatusOr<size_t> got = source.ReadAt(0, bytes.size(), bytes.data());
    EXPECT_TRUE(got.ok()) << got.status();
    if (got.ok()) bytes.resize(*got);
    return bytes;
  }

  std::string dir_;
  std::shared_ptr<Storage> storage_;
};

TEST_F(LocalStorageTest, OpensAPathAndAFileUri) {
  const std::string bytes = FrameRecords({"one", "two"});
  const std::string path = Path("a.tfrecord");
  WriteFile(path, bytes);
  for (const std::string& uri : {path, "file://" + path}) {
    SCOPED_TRACE(uri);
    absl::StatusOr<std::unique_ptr<ByteSource>> source = storage_->Open(uri);
    ASSERT_TRUE(source.ok()) << source.status();
    EXPECT_EQ((*source)->size(), bytes.size());
    EXPECT_NE((*source)->mtime_ns(), 0);
    EXPECT_EQ(ReadFrom(**source), bytes);
  }
}

TEST_F(LocalStorageTest, MissingFileIsNotFoundNamingIt) {
  const std::string path = Path("missing.tfrecord");
  for (const std::string& uri : {path, "file://" + path}) {
    EXPECT_TRUE(StatusIs(storage_->Open(uri).status(),
                         absl::StatusCode::kNotFound, {path}))
        << uri;
    EXPECT_TRUE(StatusIs(storage_->ReadWhole(uri).status(),
                         absl::StatusCode::kNotFound, {path}))
        << uri;
  }
}

TEST_F(LocalStorageTest, WriteWholeThenReadWholeRoundTrips) {
  std::string binary(70000, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 7);
  const std::string path = Path("index.bin");
  for (const std::string& bytes : {binary, std::string("short"), std::string()}) {
    ASSERT_TRUE(storage_->WriteWhole(path, bytes).ok());  // overwrites
    absl::StatusOr<std::string> read = storage_->ReadWhole(path);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(*read, bytes);
  }
}

TEST_F(LocalStorageTest, WriteWholeThroughAFileUri) {
  const std::string path = Path("via-uri.bin");
  ASSERT_TRUE(storage_->WriteWhole("file://" + path, "abc").ok());
  absl::StatusOr<std::string> read = storage_->ReadWhole(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "abc");
}

TEST_F(LocalStorageTest, WrapperWrapsEveryOpenedSource) {
  const std::string path = Path("w.tfrecord");
  WriteFile(path, "0123456789");
  auto reads = std::make_shared<std::atomic<int>>(0);
  storage_->AddWrapper([reads](std::unique_ptr<ByteSource> inner)
                           -> std::unique_ptr<ByteSource> {
    return std::make_unique<CountingSource>(std::move(inner), "counter", reads,
                                            nullptr);
  });
  absl::StatusOr<std::unique_ptr<ByteSource>> source = storage_->Open(path);
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_NE(dynamic_cast<CountingSource*>(source->get()), nullptr);
  // The wrapper forwards everything it does not override.
  EXPECT_EQ((*source)->uri(), path);
  EXPECT_EQ((*source)->size(), 10u);
  EXPECT_NE((*source)->mtime_ns(), 0);
  char buf[4];
  absl::StatusOr<size_t> got = (*source)->ReadAt(3, 4, buf);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(std::string(buf, *got), "3456");
  EXPECT_EQ(reads->load(), 1);

  // ReadWhole and the readers' opener go through the wrapper too.
  absl::StatusOr<std::string> whole = storage_->ReadWhole(path);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(*whole, "0123456789");
  EXPECT_EQ(reads->load(), 2);
  absl::StatusOr<std::unique_ptr<ByteSource>> opened = storage_->Opener()(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_NE(dynamic_cast<CountingSource*>(opened->get()), nullptr);
}

TEST_F(LocalStorageTest, WrappersApplyInTheOrderAdded) {
  const std::string path = Path("w.tfrecord");
  WriteFile(path, "abc");
  auto reads = std::make_shared<std::atomic<int>>(0);
  auto log = std::make_shared<std::vector<std::string>>();
  for (const char* name : {"first", "second"}) {
    storage_->AddWrapper([=](std::unique_ptr<ByteSource> inner)
                             -> std::unique_ptr<ByteSource> {
      return std::make_unique<CountingSource>(std::move(inner), name, reads,
                                              log);
    });
  }
  absl::StatusOr<std::unique_ptr<ByteSource>> source = storage_->Open(path);
  ASSERT_TRUE(source.ok()) << source.status();
  auto* outer = dynamic_cast<CountingSource*>(source->get());
  ASSERT_NE(outer, nullptr);
  EXPECT_EQ(outer->name(), "second");
  EXPECT_EQ(ReadFrom(**source), "abc");
  // "first" wraps the file, "second" wraps "first": a read enters "second".
  EXPECT_EQ(*log, (std::vector<std::string>{"second", "first"}));
}

TEST_F(LocalStorageTest, FailedOpenIsNotWrapped) {
  int wrapped = 0;
  storage_->AddWrapper([&wrapped](std::unique_ptr<ByteSource> inner) {
    ++wrapped;
    return inner;
  });
  EXPECT_FALSE(storage_->Open(Path("missing")).ok());
  EXPECT_EQ(wrapped, 0);
}

TEST_F(LocalStorageTest, OpenerKeepsTheStorageAlive) {
  const std::string path = Path("alive.tfrecord");
  WriteFile(path, "xyz");
  auto reads = std::make_shared<std::atomic<int>>(0);
  storage_->AddWrapper([reads](std::unique_ptr<ByteSource> inner)
                           -> std::unique_ptr<ByteSource> {
    return std::make_unique<CountingSource>(std::move(inner), "c", reads,
                                            nullptr);
  });
  SourceOpener open = storage_->Opener();
  std::weak_ptr<Storage> weak = storage_;
  storage_.reset();
  EXPECT_FALSE(weak.expired());
  absl::StatusOr<std::unique_ptr<ByteSource>> source = open(path);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(ReadFrom(**source), "xyz");
  EXPECT_EQ(reads->load(), 1) << "the wrapper was lost with the Storage";
  open = nullptr;
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace test
}  // namespace ffm
