// Local and mounted paths (and file:// URIs): the backend for everything
// that is not another scheme.
#ifndef FFM_IO_POSIX_BACKEND_H_
#define FFM_IO_POSIX_BACKEND_H_

#include <memory>
#include <string>

#include "ffm/io/storage_backend.h"

namespace ffm {

absl::StatusOr<std::unique_ptr<StorageBackend>> MakePosixBackend(
    const std::string& settings);

}  // namespace ffm

#endif  // FFM_IO_POSIX_BACKEND_H_
