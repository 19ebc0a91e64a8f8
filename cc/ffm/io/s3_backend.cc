#include "ffm/io/s3_backend.h"

#include "ffm/io/s3_config.h"
#include "ffm/io/s3_source.h"

namespace ffm {
namespace {

class S3Backend final : public StorageBackend {
 public:
  explicit S3Backend(S3Config config) : config_(std::move(config)) {}

  absl::StatusOr<std::unique_ptr<ByteSource>> Open(
      const std::string& uri) const override {
    return OpenS3Source(uri, config_);
  }
  absl::Status Write(const std::string& uri,
                     absl::string_view bytes) const override {
    return WriteS3Object(uri, bytes, config_);
  }
  absl::StatusOr<std::vector<std::string>> List(
      const std::string& dir_uri,
      const std::string& name_pattern) const override {
    return ListS3(dir_uri, name_pattern, config_);
  }

 private:
  const S3Config config_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StorageBackend>> MakeS3Backend(
    const std::string& settings) {
  absl::StatusOr<S3Config> config = S3Config::FromEnv();
  if (!config.ok()) return config.status();
  absl::Status s = config->Apply(settings);
  if (!s.ok()) return s;
  return std::make_unique<S3Backend>(*std::move(config));
}

}  // namespace ffm
