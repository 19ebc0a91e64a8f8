// Opens the right ByteSource for a URI: s3://bucket/key goes to S3, anything
// else (a local or mounted path, or file://) to POSIX.
#ifndef FFM_IO_OPEN_SOURCE_H_
#define FFM_IO_OPEN_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ffm/io/byte_source.h"

namespace ffm {

struct SourceOptions {
  // Reserved for S3 settings (endpoint, region, retries); POSIX needs none.
  std::string s3_config;
};

absl::StatusOr<std::unique_ptr<ByteSource>> OpenByteSource(
    const std::string& uri, const SourceOptions& options);

}  // namespace ffm

#endif  // FFM_IO_OPEN_SOURCE_H_
