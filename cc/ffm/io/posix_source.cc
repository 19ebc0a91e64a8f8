#include "ffm/io/posix_source.h"

#include <algorithm>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "ffm/io/errors.h"

namespace ffm {
namespace {

// Filesystems that live on this machine (statfs(2) magic numbers). Anything
// else (FUSE such as SageMaker Fast File Mode or rclone, NFS, SMB, Lustre)
// is read with parallel ranged reads.
bool IsLocalDisk(int fd) {
  struct statfs fs;
  if (::fstatfs(fd, &fs) != 0) return false;
  switch (static_cast<uint64_t>(fs.f_type)) {
    case 0xEF53:      // ext2/3/4
    case 0x58465342:  // xfs
    case 0x9123683E:  // btrfs
    case 0x01021994:  // tmpfs
    case 0x794C7630:  // overlayfs (containers)
    case 0x2FC12FC1:  // zfs
    case 0xF2F52010:  // f2fs
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ByteSource>> PosixSource::Open(
    const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat(path, ": open failed"));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, absl::StrCat(path, ": stat failed"));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is a directory, not a TFRecord file"));
  }
  return std::unique_ptr<ByteSource>(
      new PosixSource(path, fd, static_cast<uint64_t>(st.st_size),
                      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
                          st.st_mtim.tv_nsec,
                      IsLocalDisk(fd)));
}

PosixSource::~PosixSource() {
  for (const IdleFd& idle : idle_) ::close(idle.fd);
}

absl::StatusOr<int> PosixSource::TakeFd(uint64_t offset) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      auto it = std::find_if(idle_.begin(), idle_.end(),
                             [offset](const IdleFd& i) { return i.next == offset; });
      // Else the one idle longest: the most recently returned is the one
      // most likely to be continued by its lane's next read.
      if (it == idle_.end()) it = idle_.begin();
      int fd = it->fd;
      idle_.erase(it);
      return fd;
    }
  }
  // Reopen the file that was opened, not whatever the path names now (it
  // may have been replaced or deleted since): the size and mtime the reader
  // checked are this file's.
  std::string self = absl::StrCat("/proc/self/fd/", first_fd_);
  int fd = ::open(self.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat(path_, ": open failed"));
  return fd;
}

void PosixSource::ReturnFd(int fd, uint64_t next) const {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back({fd, next});
}

absl::StatusOr<size_t> PosixSource::ReadAt(uint64_t offset, size_t n,
                                           char* dst) const {
  absl::StatusOr<int> fd = TakeFd(offset);
  if (!fd.ok()) return fd.status();
  size_t done = 0;
  absl::Status error;
  while (done < n) {
    ssize_t r = ::pread(*fd, dst + done, n - done,
                        static_cast<off_t>(offset + done));
    if (r == 0) break;  // end of file
    if (r < 0) {
      if (errno == EINTR) continue;
      error = ErrnoToStatus(
          errno, absl::StrCat(path_, ": read failed at byte offset ",
                              offset + done));
      break;
    }
    done += static_cast<size_t>(r);
  }
  ReturnFd(*fd, offset + done);
  if (!error.ok()) return error;
  return done;
}

}  // namespace ffm
