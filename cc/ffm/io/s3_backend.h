// s3:// URIs: the S3 configuration (environment + the "s3." storage options)
// resolved once, and S3Source/ListS3 behind the StorageBackend interface.
// Sees no Arrow type (only s3_source.cc does).
#ifndef FFM_IO_S3_BACKEND_H_
#define FFM_IO_S3_BACKEND_H_

#include <memory>
#include <string>

#include "ffm/io/storage_backend.h"

namespace ffm {

absl::StatusOr<std::unique_ptr<StorageBackend>> MakeS3Backend(
    const std::string& settings);

}  // namespace ffm

#endif  // FFM_IO_S3_BACKEND_H_
