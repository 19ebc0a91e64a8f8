#include "ffm/io/open_source.h"

#include <cerrno>
#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "ffm/io/errors.h"
#include "absl/strings/str_cat.h"
#include "ffm/io/posix_source.h"
#include "ffm/io/s3_source.h"

namespace ffm {

absl::StatusOr<std::unique_ptr<ByteSource>> OpenByteSource(
    const std::string& uri, const SourceOptions& options) {
  if (absl::StartsWith(uri, "s3://")) {
    if (!options.s3.ok()) {
      return absl::Status(options.s3.status().code(),
                          absl::StrCat(uri, ": ", options.s3.status().message()));
    }
    return OpenS3Source(uri, *options.s3);
  }
  if (absl::StartsWith(uri, "file://")) return PosixSource::Open(uri.substr(7));
  if (uri.find("://") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        uri, ": unsupported URI scheme (expected a path or s3://bucket/key)"));
  }
  return PosixSource::Open(uri);
}

absl::StatusOr<std::string> ReadWholeObject(const std::string& uri,
                                            const SourceOptions& options) {
  absl::StatusOr<std::unique_ptr<ByteSource>> source =
      OpenByteSource(uri, options);
  if (!source.ok()) return source.status();
  std::string bytes((*source)->size(), '\0');
  absl::StatusOr<size_t> got = (*source)->ReadAt(0, bytes.size(), bytes.data());
  if (!got.ok()) return got.status();
  bytes.resize(*got);
  return bytes;
}

absl::Status WriteWholeObject(const std::string& uri, absl::string_view bytes,
                              const SourceOptions& options) {
  if (absl::StartsWith(uri, "s3://")) {
    if (!options.s3.ok()) return options.s3.status();
    return WriteS3Object(uri, bytes, *options.s3);
  }
  std::string path = absl::StartsWith(uri, "file://") ? uri.substr(7) : uri;
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return ErrnoToStatus(errno, absl::StrCat(tmp, ": open for writing failed"));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) return ErrnoToStatus(errno, absl::StrCat(tmp, ": write failed"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoToStatus(errno, absl::StrCat(path, ": rename failed"));
  }
  return absl::OkStatus();
}

}  // namespace ffm
