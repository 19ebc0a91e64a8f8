#include "ffm/io/fd_io.h"

#include <unistd.h>

#include <cerrno>

namespace ffm {

bool PreadFull(int fd, char* dst, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t got = pread(fd, dst, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    dst += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

bool WriteFull(int fd, const char* src, size_t n) {
  while (n > 0) {
    ssize_t put = write(fd, src, n);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    src += put;
    n -= static_cast<size_t>(put);
  }
  return true;
}

}  // namespace ffm
