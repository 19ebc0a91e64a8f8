#include "ffm/io/open_source.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ffm/io/posix_source.h"

namespace ffm {

absl::StatusOr<std::unique_ptr<ByteSource>> OpenByteSource(
    const std::string& uri, const SourceOptions& options) {
  (void)options;
  if (absl::StartsWith(uri, "s3://")) {
    return absl::UnimplementedError(
        absl::StrCat(uri, ": s3:// support is not built into this library"));
  }
  if (absl::StartsWith(uri, "file://")) return PosixSource::Open(uri.substr(7));
  if (uri.find("://") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        uri, ": unsupported URI scheme (expected a path or s3://bucket/key)"));
  }
  return PosixSource::Open(uri);
}

}  // namespace ffm
