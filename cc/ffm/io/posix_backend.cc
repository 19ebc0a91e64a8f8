#include "ffm/io/posix_backend.h"

#include <cerrno>
#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ffm/io/errors.h"
#include "ffm/io/posix_source.h"

namespace ffm {
namespace {

std::string PathOf(const std::string& uri) {
  return absl::StartsWith(uri, "file://") ? uri.substr(7) : uri;
}

class PosixBackend final : public StorageBackend {
 public:
  absl::StatusOr<std::unique_ptr<ByteSource>> Open(
      const std::string& uri) const override {
    return PosixSource::Open(PathOf(uri));
  }

  // To a temporary name, then renamed: readers never see half an index.
  absl::Status Write(const std::string& uri,
                     absl::string_view bytes) const override {
    std::string path = PathOf(uri);
    std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) {
        return ErrnoToStatus(errno,
                             absl::StrCat(tmp, ": open for writing failed"));
      }
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      out.close();
      if (!out) return ErrnoToStatus(errno, absl::StrCat(tmp, ": write failed"));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      return ErrnoToStatus(errno, absl::StrCat(path, ": rename failed"));
    }
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<StorageBackend>> MakePosixBackend(
    const std::string& settings) {
  if (!settings.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("local files take no storage options, got '", settings,
                     "'"));
  }
  return std::make_unique<PosixBackend>();
}

}  // namespace ffm
