// Opens the right ByteSource for a URI: s3://bucket/key goes to S3, anything
// else (a local or mounted path, or file://) to POSIX.
#ifndef FFM_IO_OPEN_SOURCE_H_
#define FFM_IO_OPEN_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ffm/io/byte_source.h"
#include "ffm/io/s3_config.h"

namespace ffm {

struct SourceOptions {
  // The S3 configuration, or why it could not be formed (e.g. a malformed
  // AWS_ENDPOINT_URL): reported only when an s3:// URI is opened.
  absl::StatusOr<S3Config> s3 = S3Config();
};

absl::StatusOr<std::unique_ptr<ByteSource>> OpenByteSource(
    const std::string& uri, const SourceOptions& options);

// Whole-object helpers for small files such as a record index.
absl::StatusOr<std::string> ReadWholeObject(const std::string& uri,
                                            const SourceOptions& options);
// Local files are written to a temporary name and renamed into place.
absl::Status WriteWholeObject(const std::string& uri, absl::string_view bytes,
                              const SourceOptions& options);

}  // namespace ffm

#endif  // FFM_IO_OPEN_SOURCE_H_
