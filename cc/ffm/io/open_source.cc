#include "ffm/io/open_source.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ffm/io/posix_source.h"
#include "ffm/io/s3_source.h"

namespace ffm {

absl::StatusOr<std::unique_ptr<ByteSource>> OpenByteSource(
    const std::string& uri, const SourceOptions& options) {
  if (absl::StartsWith(uri, "s3://")) {
    if (!options.s3.ok()) {
      return absl::Status(options.s3.status().code(),
                          absl::StrCat(uri, ": ", options.s3.status().message()));
    }
    return OpenS3Source(uri, *options.s3);
  }
  if (absl::StartsWith(uri, "file://")) return PosixSource::Open(uri.substr(7));
  if (uri.find("://") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        uri, ": unsupported URI scheme (expected a path or s3://bucket/key)"));
  }
  return PosixSource::Open(uri);
}

}  // namespace ffm
