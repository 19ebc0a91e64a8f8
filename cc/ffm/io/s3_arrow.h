// What the translation units that talk to Arrow's S3FileSystem share: the
// process-wide client per configuration, the one Arrow -> absl::Status
// mapping and the one retry loop. Includes Arrow, so only C++20 files of the
// S3 layer (s3_source.cc, s3_objects.cc) may include it; everything above
// them sees s3_source.h / s3_objects.h, which do not.
#ifndef FFM_IO_S3_ARROW_H_
#define FFM_IO_S3_ARROW_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "arrow/filesystem/s3fs.h"
#include "ffm/io/retry.h"
#include "ffm/io/s3_config.h"

namespace ffm {

// Arrow's S3 error as an absl::Status whose code says what happened
// (NotFound, PermissionDenied, Unavailable, ...); `context` (may be empty)
// goes before the message.
absl::Status FromArrow(const arrow::Status& s, const std::string& context);

// The retry budget of one request under `config`.
RetryPolicy PolicyFor(const S3Config& config);

// Runs `attempt` (one request) within one budget; the final error is
// prefixed with `what`.
absl::Status WithRetries(const RetryPolicy& policy, const std::string& what,
                         const std::function<absl::Status()>& attempt);

// kRequests: every request is one attempt, retried by WithRetries (reads,
// HEADs, listings, deletes, copies). kUploads: multipart uploads, whose part
// PUTs Arrow sends from its own threads, so the SDK retries them.
// kWholeObjects: objects written in one go, one PutObject each (SDK retries).
enum class S3Client { kRequests, kUploads, kWholeObjects };

// One S3FileSystem (client + connection pool) per configuration and kind,
// for the life of the process.
absl::StatusOr<std::shared_ptr<arrow::fs::S3FileSystem>> SharedFileSystem(
    const S3Config& config, S3Client client = S3Client::kRequests);

// A 404 on an object does not say whether the key or the bucket is missing:
// asks for the bucket (one HEAD, on the error path only) and names it.
absl::Status NameMissingBucket(arrow::fs::S3FileSystem& fs,
                               const std::string& bucket,
                               absl::Status not_found);

}  // namespace ffm

#endif  // FFM_IO_S3_ARROW_H_
