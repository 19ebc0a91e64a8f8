// ByteSource over one S3 object, through Arrow's S3FileSystem (aws-sdk-cpp
// with its own curl/OpenSSL, hidden inside libarrow_s3). This and
// s3_source.cc are the only files that see Arrow; Arrow errors become
// absl::Status here, once.
#ifndef FFM_IO_S3_SOURCE_H_
#define FFM_IO_S3_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ffm/io/byte_source.h"
#include "ffm/io/s3_config.h"

namespace ffm {

// Opens s3://bucket/key: one HEAD for the size. Ranged reads (ReadAt) are
// independent GETs and run concurrently. All sources with the same config
// share one client and connection pool for the life of the process.
absl::StatusOr<std::unique_ptr<ByteSource>> OpenS3Source(
    const std::string& uri, const S3Config& config);

// Writes `bytes` as the whole object s3://bucket/key (an index file).
absl::Status WriteS3Object(const std::string& uri, absl::string_view bytes,
                           const S3Config& config);

// Objects under s3://bucket/prefix/ whose last path component matches the
// shell pattern `name_pattern` (fnmatch), as sorted s3:// URIs.
// ListObjectsV2 with pagination.
absl::StatusOr<std::vector<std::string>> ListS3(const std::string& dir_uri,
                                                const std::string& name_pattern,
                                                const S3Config& config);

}  // namespace ffm

#endif  // FFM_IO_S3_SOURCE_H_
