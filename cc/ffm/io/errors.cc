#include "ffm/io/errors.h"

#include <errno.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace ffm {

absl::Status ErrnoToStatus(int err, const std::string& context) {
  std::string msg = absl::StrCat(context, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(msg);
    case EISDIR:
    case EINVAL:
    case ENAMETOOLONG:
      return absl::InvalidArgumentError(msg);
    case EAGAIN:
    case EINTR:
    case ETIMEDOUT:
    case ECONNRESET:
    case EIO:  // FUSE mounts report backend failures as EIO
      return absl::UnavailableError(msg);
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return absl::ResourceExhaustedError(msg);
    default:
      return absl::UnknownError(msg);
  }
}

}  // namespace ffm
