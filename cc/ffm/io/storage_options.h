// Settings for every storage backend in one value, as the ops' attr and the
// Python API carry them: "s3.endpoint_url=http://h:9000;s3.region=eu-west-1".
// Each key is prefixed by the URI scheme it configures, so adding a backend
// adds keys, not a new attr through every layer.
#ifndef FFM_IO_STORAGE_OPTIONS_H_
#define FFM_IO_STORAGE_OPTIONS_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ffm {

struct StorageOptions {
  // Scheme ("s3") -> that backend's own "key=value;key=value" settings.
  std::map<std::string, std::string> by_scheme;

  // InvalidArgument for an item without "scheme." or "=".
  static absl::StatusOr<StorageOptions> Parse(absl::string_view text);
  std::string ToString() const;

  // The settings addressed to `scheme` ("" if none).
  const std::string& For(const std::string& scheme) const;
};

}  // namespace ffm

#endif  // FFM_IO_STORAGE_OPTIONS_H_
