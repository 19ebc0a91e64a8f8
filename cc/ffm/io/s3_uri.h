// s3://bucket/key parsing and validation.
#ifndef FFM_IO_S3_URI_H_
#define FFM_IO_S3_URI_H_

#include <string>

#include "absl/status/statusor.h"

namespace ffm {

struct S3Uri {
  std::string bucket;
  std::string key;  // may be empty for a bucket or prefix
};

// InvalidArgument, naming the URI, for a missing or malformed bucket name
// (S3 rules: 3-63 of a-z 0-9 . -, starting and ending alphanumeric) or, with
// `require_key`, an empty key.
absl::StatusOr<S3Uri> ParseS3Uri(const std::string& uri, bool require_key);

}  // namespace ffm

#endif  // FFM_IO_S3_URI_H_
