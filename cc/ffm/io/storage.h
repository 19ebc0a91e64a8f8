// The one place where a URI's scheme picks its storage backend:
//
//   Storage::Create("s3.region=eu-west-1")   // environment read now
//     .Open("s3://bucket/key")    -> S3 backend
//     .Open("/mnt/data/f.tfrecord", "file://...") -> POSIX backend
//
// Backends are made when the Storage is; one that cannot be (a malformed
// AWS_ENDPOINT_URL, a bad option) fails only the URIs of its scheme, naming
// the URI. Sources pass through the wrappers (e.g. a local cache) in the
// order they were added; the first is the local cache of remote objects
// when "cache." options or TF_FFM_CACHE_DIR name a directory (see
// cache_config.h). Thread-safe once built.
//
// Adding a scheme (gs://, say): write gs_backend.{h,cc} with a
// BackendFactory, add one row to kBackends in storage.cc.
#ifndef FFM_IO_STORAGE_H_
#define FFM_IO_STORAGE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ffm/io/byte_source.h"
#include "ffm/io/source_opener.h"
#include "ffm/io/storage_backend.h"
#include "ffm/io/storage_options.h"

namespace ffm {

class Storage : public std::enable_shared_from_this<Storage> {
 public:
  // InvalidArgument if `options` names a scheme no backend serves (or
  // bad "cache." options); reads TF_FFM_CACHE_DIR/TF_FFM_CACHE_SIZE now.
  static absl::StatusOr<std::shared_ptr<Storage>> Create(
      const StorageOptions& options);
  // Parses the "scheme.key=value;..." form first.
  static absl::StatusOr<std::shared_ptr<Storage>> Create(
      absl::string_view options);

  absl::StatusOr<std::unique_ptr<ByteSource>> Open(const std::string& uri) const;
  absl::StatusOr<std::string> ReadWhole(const std::string& uri) const;
  absl::Status WriteWhole(const std::string& uri, absl::string_view bytes) const;
  // `pattern` is dir/name-pattern, wildcards in the last component only.
  absl::StatusOr<std::vector<std::string>> List(const std::string& pattern) const;

  // Call before sharing the Storage with readers.
  void AddWrapper(SourceWrapper wrapper) { wrappers_.push_back(std::move(wrapper)); }

  // Open(), for readers; keeps this Storage alive.
  SourceOpener Opener() const;

  // The scheme of `uri` ("s3"), or "" for a path or file:// URI.
  static std::string SchemeOf(absl::string_view uri);

 private:
  absl::StatusOr<const StorageBackend*> BackendFor(const std::string& uri) const;

  std::map<std::string, absl::StatusOr<std::unique_ptr<StorageBackend>>>
      backends_;  // by scheme; "" = POSIX
  std::vector<SourceWrapper> wrappers_;
};

}  // namespace ffm

#endif  // FFM_IO_STORAGE_H_
