// Settings of the s3:// TensorFlow filesystem beyond the S3 connection
// (S3Config): upload concurrency and readahead memory. TF-free, read from
// the environment at the edge.
#ifndef FFM_IO_S3_FS_OPTIONS_H_
#define FFM_IO_S3_FS_OPTIONS_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "ffm/io/s3_objects.h"

namespace ffm {

struct S3FsOptions {
  S3WriteOptions write;
  // Readahead memory of all s3:// files a process has open for reading.
  uint64_t readahead_bytes = 128ull << 20;
  // Of which one file may hold at most this much ahead of its reader.
  uint64_t readahead_per_file = 32ull << 20;

  // TF_FFM_S3_PARTS_IN_FLIGHT, TF_FFM_S3_READAHEAD (bytes, per process);
  // unset = the defaults above. InvalidArgument naming the variable for a
  // value that is not a number or out of bounds.
  using Getenv = std::function<const char*(const char*)>;
  static absl::StatusOr<S3FsOptions> FromEnv(const Getenv& getenv);
  static absl::StatusOr<S3FsOptions> FromEnv();
};

}  // namespace ffm

#endif  // FFM_IO_S3_FS_OPTIONS_H_
