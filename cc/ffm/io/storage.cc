#include "ffm/io/storage.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ffm/io/cache_config.h"
#include "ffm/io/caching_source.h"
#include "ffm/io/posix_backend.h"
#include "ffm/io/s3_backend.h"

namespace ffm {
namespace {

struct BackendEntry {
  const char* scheme;  // "" = paths and file://
  BackendFactory make;
};

// Every storage tf-ffm reads from: one row per URI scheme.
constexpr BackendEntry kBackends[] = {
    {"", &MakePosixBackend},
    {"s3", &MakeS3Backend},
};

// Option groups that configure a layer over every backend, not a scheme.
constexpr char kCacheGroup[] = "cache";

}  // namespace

std::string Storage::SchemeOf(absl::string_view uri) {
  size_t sep = uri.find("://");
  if (sep == absl::string_view::npos) return "";
  absl::string_view scheme = uri.substr(0, sep);
  return scheme == "file" ? "" : std::string(scheme);
}

absl::StatusOr<std::shared_ptr<Storage>> Storage::Create(
    const StorageOptions& options) {
  auto storage = std::make_shared<Storage>();
  for (const auto& [scheme, settings] : options.by_scheme) {
    bool known = scheme == kCacheGroup;
    for (const BackendEntry& e : kBackends) known |= scheme == e.scheme;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "storage options name scheme '", scheme, "', which tf-ffm does not read"));
    }
  }
  for (const BackendEntry& e : kBackends) {
    storage->backends_.emplace(e.scheme, e.make(options.For(e.scheme)));
  }
  absl::StatusOr<CacheConfig> cache = CacheConfig::Make(options.For(kCacheGroup));
  if (!cache.ok()) return cache.status();
  if (SourceWrapper wrap = MakeCacheWrapper(*cache)) {
    storage->AddWrapper(std::move(wrap));
  }
  return storage;
}

absl::StatusOr<std::shared_ptr<Storage>> Storage::Create(
    absl::string_view options) {
  absl::StatusOr<StorageOptions> parsed = StorageOptions::Parse(options);
  if (!parsed.ok()) return parsed.status();
  return Create(*parsed);
}

absl::StatusOr<const StorageBackend*> Storage::BackendFor(
    const std::string& uri) const {
  auto it = backends_.find(SchemeOf(uri));
  if (it == backends_.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        uri, ": unsupported URI scheme (expected a path or s3://bucket/key)"));
  }
  if (!it->second.ok()) {
    const absl::Status& s = it->second.status();
    return absl::Status(s.code(), absl::StrCat(uri, ": ", s.message()));
  }
  return it->second->get();
}

absl::StatusOr<std::unique_ptr<ByteSource>> Storage::Open(
    const std::string& uri) const {
  absl::StatusOr<const StorageBackend*> backend = BackendFor(uri);
  if (!backend.ok()) return backend.status();
  absl::StatusOr<std::unique_ptr<ByteSource>> source = (*backend)->Open(uri);
  if (!source.ok()) return source;
  std::unique_ptr<ByteSource> out = *std::move(source);
  for (const SourceWrapper& wrap : wrappers_) out = wrap(std::move(out));
  return out;
}

absl::StatusOr<std::string> Storage::ReadWhole(const std::string& uri) const {
  absl::StatusOr<std::unique_ptr<ByteSource>> source = Open(uri);
  if (!source.ok()) return source.status();
  std::string bytes((*source)->size(), '\0');
  absl::StatusOr<size_t> got = (*source)->ReadAt(0, bytes.size(), bytes.data());
  if (!got.ok()) return got.status();
  bytes.resize(*got);
  return bytes;
}

absl::Status Storage::WriteWhole(const std::string& uri,
                                 absl::string_view bytes) const {
  absl::StatusOr<const StorageBackend*> backend = BackendFor(uri);
  if (!backend.ok()) return backend.status();
  return (*backend)->Write(uri, bytes);
}

absl::StatusOr<std::vector<std::string>> Storage::List(
    const std::string& pattern) const {
  absl::StatusOr<const StorageBackend*> backend = BackendFor(pattern);
  if (!backend.ok()) return backend.status();
  size_t slash = pattern.rfind('/');
  size_t root = pattern.find("://");
  if (slash == std::string::npos ||
      (root != std::string::npos && slash < root + 3)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", pattern, "' is not a dir/pattern (e.g. s3://bucket/prefix/*.tfrecord)"));
  }
  return (*backend)->List(pattern.substr(0, slash), pattern.substr(slash + 1));
}

SourceOpener Storage::Opener() const {
  // Readers keep their Storage alive through the opener they hold.
  return [self = shared_from_this()](const std::string& uri) {
    return self->Open(uri);
  };
}

}  // namespace ffm
