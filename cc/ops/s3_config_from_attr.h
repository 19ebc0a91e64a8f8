// The S3 configuration an op uses: the process environment (read once, when
// the kernel is constructed) overridden by the op's `s3_options` attr.
#ifndef TF_FFM_OPS_S3_CONFIG_FROM_ATTR_H_
#define TF_FFM_OPS_S3_CONFIG_FROM_ATTR_H_

#include <string>

#include "ffm/io/s3_config.h"

namespace tensorflow {
namespace data {

inline absl::StatusOr<ffm::S3Config> S3ConfigFromEnvAnd(
    const std::string& s3_options) {
  absl::StatusOr<ffm::S3Config> config = ffm::S3Config::FromEnv();
  if (!config.ok()) return config;
  absl::Status s = config->Apply(s3_options);
  if (!s.ok()) return s;
  return config;
}

}  // namespace data
}  // namespace tensorflow

#endif  // TF_FFM_OPS_S3_CONFIG_FROM_ATTR_H_
