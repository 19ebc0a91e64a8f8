#include "ffm/io/s3_objects.h"

#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "arrow/buffer.h"
#include "arrow/filesystem/s3fs.h"
#include "arrow/io/interfaces.h"
#include "ffm/io/s3_arrow.h"
#include "ffm/io/s3_source.h"
#include "ffm/io/s3_uri.h"

namespace ffm {

namespace {

// The largest object one CopyObject request may copy.
constexpr uint64_t kMaxServerSideCopy = 5ull << 30;
constexpr int kMaxPartsInFlight = 256;

// s3://bucket/key/ -> "bucket/key", Arrow's path (no trailing slash).
absl::StatusOr<std::string> ArrowPath(const std::string& uri) {
  absl::StatusOr<S3Uri> parsed = ParseS3Uri(uri, /*require_key=*/false);
  if (!parsed.ok()) return parsed.status();
  std::string key = parsed->key;
  while (!key.empty() && key.back() == '/') key.pop_back();
  return key.empty() ? parsed->bucket : parsed->bucket + "/" + key;
}

std::string BucketOf(const std::string& arrow_path) {
  return arrow_path.substr(0, arrow_path.find('/'));
}

// What a filesystem call needs: the client and the object's Arrow path.
struct Target {
  std::shared_ptr<arrow::fs::S3FileSystem> fs;
  std::string path;
  bool is_bucket() const { return path.find('/') == std::string::npos; }
};

absl::StatusOr<Target> Resolve(const std::string& uri, const S3Config& config) {
  absl::StatusOr<std::string> path = ArrowPath(uri);
  if (!path.ok()) return path.status();
  auto fs = SharedFileSystem(config);
  if (!fs.ok()) return fs.status();
  return Target{*std::move(fs), *std::move(path)};
}

// One Arrow call within the retry budget, its error naming `uri`.
absl::Status Call(const S3Config& config, const std::string& what,
                  const std::function<arrow::Status()>& request) {
  return WithRetries(PolicyFor(config), what, [&] {
    arrow::Status s = request();
    return s.ok() ? absl::OkStatus() : FromArrow(s, "");
  });
}

absl::StatusOr<arrow::fs::FileInfo> Info(const Target& t, const std::string& uri,
                                         const S3Config& config) {
  arrow::fs::FileInfo info;
  absl::Status s = Call(config, absl::StrCat(uri, ": stat"), [&] {
    auto got = t.fs->GetFileInfo(t.path);
    if (got.ok()) info = *std::move(got);
    return got.status();
  });
  if (!s.ok()) return s;
  return info;
}

absl::Status NotFound(const Target& t, const std::string& uri) {
  return NameMissingBucket(
      *t.fs, BucketOf(t.path),
      absl::NotFoundError(absl::StrCat(uri, ": no such object or directory")));
}

// The entry at `uri` as a file (FailedPrecondition for a directory).
absl::StatusOr<arrow::fs::FileInfo> FileAt(const Target& t,
                                           const std::string& uri,
                                           const S3Config& config) {
  auto info = Info(t, uri, config);
  if (!info.ok()) return info.status();
  if (info->type() == arrow::fs::FileType::NotFound) return NotFound(t, uri);
  if (info->type() != arrow::fs::FileType::File) {
    return absl::FailedPreconditionError(
        absl::StrCat(uri, ": is a directory, not an object"));
  }
  return info;
}

absl::StatusOr<std::vector<arrow::fs::FileInfo>> List(
    const Target& t, const std::string& uri, const S3Config& config,
    bool recursive) {
  arrow::fs::FileSelector selector;
  selector.base_dir = t.path;
  selector.recursive = recursive;
  selector.allow_not_found = false;
  std::vector<arrow::fs::FileInfo> infos;
  absl::Status s = Call(config, absl::StrCat(uri, ": list"), [&] {
    auto got = t.fs->GetFileInfo(selector);
    if (got.ok()) infos = *std::move(got);
    return got.status();
  });
  if (s.code() == absl::StatusCode::kNotFound) return NotFound(t, uri);
  if (!s.ok()) return s;
  return infos;
}

}  // namespace

absl::StatusOr<S3ObjectInfo> StatS3(const std::string& uri,
                                    const S3Config& config) {
  auto t = Resolve(uri, config);
  if (!t.ok()) return t.status();
  auto info = Info(*t, uri, config);
  if (!info.ok()) return info.status();
  S3ObjectInfo out;
  switch (info->type()) {
    case arrow::fs::FileType::NotFound:
      return NotFound(*t, uri);
    case arrow::fs::FileType::File:
      out.size = static_cast<uint64_t>(info->size());
      out.mtime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         info->mtime().time_since_epoch())
                         .count();
      return out;
    default:
      out.is_directory = true;
      return out;
  }
}

absl::StatusOr<std::vector<std::string>> ListS3Children(
    const std::string& dir_uri, const S3Config& config) {
  auto t = Resolve(dir_uri, config);
  if (!t.ok()) return t.status();
  auto infos = List(*t, dir_uri, config, /*recursive=*/false);
  if (!infos.ok()) return infos.status();
  std::vector<std::string> names;
  names.reserve(infos->size());
  for (const arrow::fs::FileInfo& info : *infos) {
    names.push_back(info.base_name());
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::vector<std::string>> GlobS3(const std::string& pattern,
                                                const S3Config& config) {
  absl::StatusOr<S3Uri> parsed = ParseS3Uri(pattern, /*require_key=*/false);
  if (!parsed.ok()) return parsed.status();
  const std::string& rest = parsed->key;
  const size_t wild = rest.find_first_of("*?[\\");
  if (wild == std::string::npos) {
    absl::StatusOr<S3ObjectInfo> info = StatS3(pattern, config);
    if (info.ok()) return std::vector<std::string>{pattern};
    if (info.status().code() == absl::StatusCode::kNotFound) {
      return std::vector<std::string>{};
    }
    return info.status();
  }
  const size_t slash = rest.rfind('/', wild);
  const std::string dir = slash == std::string::npos ? "" : rest.substr(0, slash);
  auto t = Resolve(absl::StrCat("s3://", parsed->bucket, "/", dir), config);
  if (!t.ok()) return t.status();
  auto infos = List(*t, pattern, config, /*recursive=*/true);
  if (!infos.ok()) {
    // A prefix with nothing below it matches nothing; a missing bucket is
    // still an error (NotFound names it).
    if (infos.status().code() == absl::StatusCode::kNotFound &&
        !absl::StrContains(infos.status().message(), "bucket '")) {
      return std::vector<std::string>{};
    }
    return infos.status();
  }
  std::vector<std::string> out;
  for (const arrow::fs::FileInfo& info : *infos) {
    std::string uri = "s3://" + info.path();
    // FNM_PATHNAME: `*` and `?` stop at '/', as in TensorFlow's Match.
    if (fnmatch(pattern.c_str(), uri.c_str(), FNM_PATHNAME) == 0) {
      out.push_back(std::move(uri));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status DeleteS3Object(const std::string& uri, const S3Config& config) {
  auto t = Resolve(uri, config);
  if (!t.ok()) return t.status();
  auto info = FileAt(*t, uri, config);
  if (!info.ok()) return info.status();
  return Call(config, absl::StrCat(uri, ": delete"),
              [&] { return t->fs->DeleteFile(t->path); });
}

absl::Status DeleteS3Dir(const std::string& uri, const S3Config& config) {
  auto t = Resolve(uri, config);
  if (!t.ok()) return t.status();
  auto children = List(*t, uri, config, /*recursive=*/false);
  if (!children.ok()) return children.status();
  if (!children->empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        uri, ": directory not empty (", children->size(), " entries)"));
  }
  if (t->is_bucket()) return absl::OkStatus();  // buckets are not deleted
  return Call(config, absl::StrCat(uri, ": delete directory"),
              [&] { return t->fs->DeleteDir(t->path); });
}

absl::Status DeleteS3Recursively(const std::string& uri,
                                 const S3Config& config) {
  auto t = Resolve(uri, config);
  if (!t.ok()) return t.status();
  auto info = Info(*t, uri, config);
  if (!info.ok()) return info.status();
  if (info->type() == arrow::fs::FileType::NotFound) return NotFound(*t, uri);
  if (info->type() == arrow::fs::FileType::File) {
    return Call(config, absl::StrCat(uri, ": delete"),
                [&] { return t->fs->DeleteFile(t->path); });
  }
  absl::Status s = Call(config, absl::StrCat(uri, ": delete contents"), [&] {
    return t->fs->DeleteDirContents(t->path, /*missing_dir_ok=*/true);
  });
  if (!s.ok() || t->is_bucket()) return s;
  return Call(config, absl::StrCat(uri, ": delete directory"),
              [&] { return t->fs->DeleteDir(t->path); });
}

absl::Status CreateS3Dir(const std::string& uri, const S3Config& config) {
  auto t = Resolve(uri, config);
  if (!t.ok()) return t.status();
  auto info = Info(*t, uri, config);
  if (!info.ok()) return info.status();
  if (info->type() == arrow::fs::FileType::Directory) {
    return absl::AlreadyExistsError(absl::StrCat(uri, ": already exists"));
  }
  if (info->type() == arrow::fs::FileType::File) {
    return absl::FailedPreconditionError(
        absl::StrCat(uri, ": an object of that name exists"));
  }
  if (t->is_bucket()) return NotFound(*t, uri);
  absl::Status s = Call(config, absl::StrCat(uri, ": create directory"), [&] {
    return t->fs->CreateDir(t->path, /*recursive=*/false);
  });
  if (s.code() == absl::StatusCode::kNotFound) return NotFound(*t, uri);
  return s;
}

namespace {

// More than one CopyObject can take: read and upload again, in parts.
absl::Status StreamCopy(const std::string& src, const std::string& dst,
                        const S3Config& config) {
  auto source = OpenS3Source(src, config);
  if (!source.ok()) return source.status();
  S3WriteOptions options;
  auto writer = S3ObjectWriter::Open(dst, config, options);
  if (!writer.ok()) return writer.status();
  std::string part(kS3UploadPartSize, '\0');
  for (uint64_t offset = 0; offset < (*source)->size();) {
    auto got = (*source)->ReadAt(offset, part.size(), part.data());
    if (!got.ok()) return got.status();
    absl::Status s = (*writer)->Append(absl::string_view(part.data(), *got));
    if (!s.ok()) return s;
    offset += *got;
  }
  return (*writer)->Close();
}

}  // namespace

absl::Status CopyS3Object(const std::string& src, const std::string& dst,
                          const S3Config& config) {
  auto from = Resolve(src, config);
  if (!from.ok()) return from.status();
  auto to = ArrowPath(dst);
  if (!to.ok()) return to.status();
  auto info = FileAt(*from, src, config);
  if (!info.ok()) return info.status();
  if (static_cast<uint64_t>(info->size()) > kMaxServerSideCopy) {
    return StreamCopy(src, dst, config);
  }
  absl::Status s =
      Call(config, absl::StrCat("copy ", src, " to ", dst),
           [&] { return from->fs->CopyFile(from->path, *to); });
  if (s.code() == absl::StatusCode::kNotFound) {
    return NameMissingBucket(*from->fs, BucketOf(*to), s);
  }
  return s;
}

absl::Status RenameS3Object(const std::string& src, const std::string& dst,
                            const S3Config& config) {
  absl::Status s = CopyS3Object(src, dst, config);
  if (!s.ok()) return s;
  return DeleteS3Object(src, config);
}

absl::Status S3WriteOptions::Validate() const {
  if (parts_in_flight < 1 || parts_in_flight > kMaxPartsInFlight) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 upload parts in flight must be 1 to ",
                     kMaxPartsInFlight, ", not ", parts_in_flight));
  }
  return absl::OkStatus();
}

namespace {

class ArrowObjectWriter final : public S3ObjectWriter {
 public:
  ArrowObjectWriter(std::string uri, std::string path, S3Config config,
                    S3WriteOptions options,
                    std::shared_ptr<arrow::fs::S3FileSystem> fs,
                    std::shared_ptr<arrow::fs::S3FileSystem> whole_fs)
      : uri_(std::move(uri)), path_(std::move(path)),
        config_(std::move(config)), options_(options), fs_(std::move(fs)),
        whole_fs_(std::move(whole_fs)) {}

  // An upload never completed is aborted: its parts are discarded and no
  // object appears.
  ~ArrowObjectWriter() override {
    if (stream_ != nullptr && !stream_->closed()) (void)stream_->Abort();
  }

  absl::Status Append(absl::string_view data) override {
    if (!failed_.ok()) return failed_;
    if (closed_) return Closed();
    while (!data.empty()) {
      const size_t take = std::min<size_t>(
          data.size(), kS3UploadPartSize - buffer_.size());
      buffer_.append(data.data(), take);
      data.remove_prefix(take);
      position_ += take;
      if (buffer_.size() == kS3UploadPartSize) {
        absl::Status s = SendPart();
        if (!s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  uint64_t position() const override { return position_; }

  absl::Status Flush() override {
    if (!failed_.ok()) return failed_;
    if (closed_) return Closed();
    if (stream_ != nullptr) return absl::OkStatus();  // visible at Close()
    return Fail(PutWhole());
  }

  absl::Status Close() override {
    if (!failed_.ok()) return failed_;
    if (closed_) return absl::OkStatus();
    closed_ = true;
    if (stream_ == nullptr) return Fail(PutWhole());
    arrow::Status s = arrow::Status::OK();
    if (!buffer_.empty()) s = stream_->Write(TakeBuffer());
    if (s.ok()) s = stream_->Close();  // the last part, then Complete
    if (s.ok()) return absl::OkStatus();
    return Fail(FromArrow(s, absl::StrCat(uri_, ": completing the upload of ",
                                          position_, " bytes")));
  }

 private:
  absl::Status Closed() const {
    return absl::FailedPreconditionError(absl::StrCat(uri_, ": file closed"));
  }

  // Remembers the first error; an upload in progress is aborted so that no
  // object appears.
  absl::Status Fail(absl::Status s) {
    if (s.ok()) return s;
    if (stream_ != nullptr && !stream_->closed()) (void)stream_->Abort();
    failed_ = s;
    return s;
  }

  // The bytes so far as the whole object: one PutObject.
  absl::Status PutWhole() {
    auto out = whole_fs_->OpenOutputStream(path_);
    arrow::Status s = out.status();
    if (s.ok()) s = (*out)->Write(buffer_.data(), buffer_.size());
    if (s.ok()) s = (*out)->Close();
    if (s.ok()) return absl::OkStatus();
    return NameMissingBucket(
        *fs_, BucketOf(path_),
        FromArrow(s, absl::StrCat(uri_, ": write of ", buffer_.size(), " bytes")));
  }

  std::shared_ptr<arrow::Buffer> TakeBuffer() {
    std::string full;
    std::swap(full, buffer_);
    buffer_.reserve(kS3UploadPartSize);  // a large object: more parts follow
    return arrow::Buffer::FromString(std::move(full));
  }

  // Hands one whole part to Arrow, which uploads it in the background; after
  // every `parts_in_flight` parts waits for them, which bounds the memory.
  absl::Status SendPart() {
    if (stream_ == nullptr) {
      absl::Status s = WithRetries(
          PolicyFor(config_), absl::StrCat(uri_, ": starting the upload"), [&] {
            auto out = fs_->OpenOutputStream(path_);
            if (!out.ok()) return FromArrow(out.status(), "");
            stream_ = *std::move(out);
            return absl::OkStatus();
          });
      if (!s.ok()) return Fail(NameMissingBucket(*fs_, BucketOf(path_), s));
    }
    const uint64_t end = position_;
    arrow::Status s = stream_->Write(TakeBuffer());
    if (s.ok() && ++parts_unconfirmed_ >= options_.parts_in_flight) {
      s = stream_->Flush();  // waits for the parts in flight; sends nothing
      parts_unconfirmed_ = 0;
    }
    if (s.ok()) return absl::OkStatus();
    return Fail(FromArrow(s, absl::StrCat(uri_, ": upload of the part ending "
                                          "at byte offset ", end)));
  }

  const std::string uri_;
  const std::string path_;
  const S3Config config_;
  const S3WriteOptions options_;
  const std::shared_ptr<arrow::fs::S3FileSystem> fs_;        // multipart
  const std::shared_ptr<arrow::fs::S3FileSystem> whole_fs_;  // PutObject
  std::shared_ptr<arrow::io::OutputStream> stream_;  // once a part is sent
  std::string buffer_;  // bytes not yet handed to Arrow, < kS3UploadPartSize
  uint64_t position_ = 0;
  int parts_unconfirmed_ = 0;
  bool closed_ = false;
  absl::Status failed_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<S3ObjectWriter>> S3ObjectWriter::Open(
    const std::string& uri, const S3Config& config,
    const S3WriteOptions& options) {
  absl::Status valid = options.Validate();
  if (!valid.ok()) return valid;
  absl::StatusOr<S3Uri> parsed = ParseS3Uri(uri, /*require_key=*/true);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->key.empty() && parsed->key.back() == '/') {
    return absl::FailedPreconditionError(
        absl::StrCat(uri, ": is a directory name, not an object"));
  }
  auto fs = SharedFileSystem(config, S3Client::kUploads);
  if (!fs.ok()) return fs.status();
  auto whole_fs = SharedFileSystem(config, S3Client::kWholeObjects);
  if (!whole_fs.ok()) return whole_fs.status();
  return std::unique_ptr<S3ObjectWriter>(new ArrowObjectWriter(
      uri, parsed->bucket + "/" + parsed->key, config, options, *std::move(fs),
      *std::move(whole_fs)));
}

}  // namespace ffm
