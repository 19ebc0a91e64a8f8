// Whole reads and writes on a file descriptor: the loops over short counts
// and EINTR that pread and write leave to their callers.
#ifndef FFM_IO_FD_IO_H_
#define FFM_IO_FD_IO_H_

#include <cstddef>
#include <cstdint>

namespace ffm {

// False (errno set, or 0 at the end of the file) unless all `n` bytes came.
bool PreadFull(int fd, char* dst, size_t n, uint64_t offset);
// False (errno set) unless all `n` bytes went.
bool WriteFull(int fd, const char* src, size_t n);

}  // namespace ffm

#endif  // FFM_IO_FD_IO_H_
