#include "ffm/index/index_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ffm/defaults.h"
#include "ffm/index/index_v1.h"
#include "ffm/io/errors.h"
#include "ffm/io/fd_io.h"
#include "ffm/tfrecord/format.h"

namespace ffm {

namespace {

bool IsRemote(const std::string& uri) {
  return absl::StrContains(uri, "://") && !absl::StartsWith(uri, "file://");
}

std::string LocalPath(const std::string& uri) {
  return absl::StartsWith(uri, "file://") ? uri.substr(7) : uri;
}

// Copies `source` to `path` through a temporary file in the same
// directory, renamed into place: a reader never maps half an index.
absl::Status Fetch(const ByteSource& source, const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      absl::StrCat(path, ".", getpid(), ".", counter.fetch_add(1), ".tmp");
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat(tmp, ": open failed"));
  std::string buffer(defaults::kChunkSize, '\0');
  absl::Status status;
  for (uint64_t offset = 0; status.ok() && offset < source.size();) {
    absl::StatusOr<size_t> n = source.ReadAt(
        offset, std::min<uint64_t>(buffer.size(), source.size() - offset),
        buffer.data());
    if (!n.ok()) {
      status = n.status();
    } else if (*n == 0) {
      status = absl::DataLossError(absl::StrCat(
          source.uri(), ": ended at byte offset ", offset, " of ",
          source.size(), " (did it change while being fetched?)"));
    } else if (!WriteFull(fd, buffer.data(), *n)) {
      status = ErrnoToStatus(errno, absl::StrCat(tmp, ": write failed"));
    }
    if (n.ok()) offset += *n;
  }
  if (close(fd) != 0 && status.ok()) {
    status = ErrnoToStatus(errno, absl::StrCat(tmp, ": close failed"));
  }
  if (status.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoToStatus(errno, absl::StrCat(path, ": rename failed"));
  }
  if (!status.ok()) unlink(tmp.c_str());
  return status;
}

// The local file to map for `uri`, fetched if need be; `key` identifies the
// version opened.
absl::StatusOr<std::string> LocalCopy(const std::string& uri,
                                      const SourceOpener& open,
                                      std::string* key) {
  if (!IsRemote(uri)) {
    const std::string path = LocalPath(uri);
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      return ErrnoToStatus(errno, absl::StrCat(path, ": stat failed"));
    }
    *key = absl::StrCat(path, "|", st.st_size, "|", st.st_mtim.tv_sec, ".",
                        st.st_mtim.tv_nsec);
    return path;
  }
  absl::StatusOr<std::unique_ptr<ByteSource>> source = open(uri);
  if (!source.ok()) return source.status();
  // Object stores give no mtime: their version (ETag) tells a replaced
  // object of the same size apart.
  const uint64_t size = (*source)->size();
  const std::string version =
      absl::StrCat((*source)->mtime_ns(), "|", (*source)->version());
  *key = absl::StrCat(uri, "|", size, "|", version);
  const std::string dir = IndexCacheDir();
  const std::string path = absl::StrCat(dir, "/", tfrecord::Crc32c(uri), "-",
                                        size, "-", tfrecord::Crc32c(version), ".idx");
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) == size) {
    return path;
  }
  std::error_code made;
  std::filesystem::create_directories(dir, made);
  if (made) return ErrnoToStatus(made.value(), absl::StrCat(dir, ": mkdir failed"));
  absl::Status s = Fetch(**source, path);
  if (!s.ok()) return s;
  return path;
}

}  // namespace

std::string IndexCacheDir() {
  if (const char* dir = std::getenv("TF_FFM_INDEX_CACHE"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return absl::StrCat(xdg, "/tf-ffm/indexes");
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home && *home ? home : "/tmp", "/.cache/tf-ffm/indexes");
}

absl::StatusOr<std::shared_ptr<const RecordIndex>> OpenIndexFile(
    const std::string& uri, const SourceOpener& open) {
  static std::mutex mu;
  static auto* opened =
      new std::map<std::string, std::weak_ptr<const RecordIndex>>();
  std::string key;
  absl::StatusOr<std::string> path = LocalCopy(uri, open, &key);
  if (!path.ok()) return path.status();
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto shared = (*opened)[key].lock()) return shared;
  }
  absl::StatusOr<std::shared_ptr<const IndexRegion>> region = MapRegion(*path);
  if (!region.ok()) return region.status();
  // Indexes of the first layout (saved by earlier versions) are small
  // enough to read whole.
  absl::StatusOr<RecordIndex> index =
      (*region)->bytes().substr(0, kIndexV1Magic.size()) == kIndexV1Magic
          ? RecordIndex::Parse((*region)->bytes(), uri)
          : RecordIndex::Open(*region, uri);
  if (!index.ok()) return index.status();
  auto shared = std::make_shared<const RecordIndex>(*std::move(index));
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = opened->begin(); it != opened->end();) {  // forget the closed
    it = it->second.expired() ? opened->erase(it) : std::next(it);
  }
  (*opened)[key] = shared;
  return shared;
}

}  // namespace ffm
