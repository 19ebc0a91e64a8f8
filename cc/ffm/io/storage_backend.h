// One kind of storage (POSIX paths, s3://, ...): how to open, write and list
// its objects. A Storage holds one per URI scheme; a new scheme is a new
// backend file plus one line in storage.cc's table.
#ifndef FFM_IO_STORAGE_BACKEND_H_
#define FFM_IO_STORAGE_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "ffm/io/byte_source.h"

namespace ffm {

class StorageBackend {
 public:
  virtual ~StorageBackend() = default;

  virtual absl::StatusOr<std::unique_ptr<ByteSource>> Open(
      const std::string& uri) const = 0;

  // Writes `bytes` as the whole object (a record index); atomically where
  // the storage allows.
  virtual absl::Status Write(const std::string& uri,
                             absl::string_view bytes) const = 0;

  // URIs under `dir_uri` whose last path component matches the shell
  // pattern `name_pattern`, sorted.
  virtual absl::StatusOr<std::vector<std::string>> List(
      const std::string& dir_uri, const std::string& name_pattern) const {
    return absl::UnimplementedError(
        absl::StrCat(dir_uri, ": listing is not supported for this storage"));
  }
};

// Makes a backend from the settings addressed to its scheme (see
// StorageOptions), reading the process environment for its defaults.
using BackendFactory = absl::StatusOr<std::unique_ptr<StorageBackend>> (*)(
    const std::string& settings);

}  // namespace ffm

#endif  // FFM_IO_STORAGE_BACKEND_H_
