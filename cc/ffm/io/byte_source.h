// A read-only, random-access view of one object's bytes (a local file or an
// S3 object). Everything above this layer (prefetch, framing, readers) sees
// only this interface, so it works the same for POSIX paths and s3:// URIs.
#ifndef FFM_IO_BYTE_SOURCE_H_
#define FFM_IO_BYTE_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ffm {

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // The URI the source was opened with; used in every error message.
  virtual const std::string& uri() const = 0;

  // Size in bytes, fixed when the source was opened.
  virtual uint64_t size() const = 0;

  // Last modification time in ns since the epoch, 0 where unknown; with the
  // size it tells whether a record index is stale.
  virtual int64_t mtime_ns() const { return 0; }

  // Names this content of the object, "" where unknown: for S3 the ETag and
  // Last-Modified of the HEAD that opened it. With the URI and size it keys
  // the local cache, so a changed object is never served from it.
  virtual std::string version() const { return ""; }

  // Whether many concurrent ranged reads beat one sequential reader: true
  // for object stores and FUSE or network mounts, where each request waits
  // on latency; false for a local disk or the page cache, where the
  // kernel's own readahead keeps up and a prefetch buffer is only one more
  // copy of every byte.
  virtual bool prefers_parallel_reads() const { return true; }

  // Whether reads in sequence on one handle are served as one stream, so a
  // jump elsewhere costs a new request: true for FUSE and network mounts
  // (rclone, Fast File Mode, goofys keep one GET open per handle and read
  // ahead on it); false for object stores, where every ranged read is a
  // request of its own, and for local disks.
  virtual bool streams_sequential_reads() const { return false; }

  // Reads up to `n` bytes at `offset` into `dst` and returns how many were
  // read; fewer than `n` only at the end of the object.
  //
  // Thread-safe: many ReadAt calls may run concurrently on one source (the
  // prefetcher issues its chunk reads in parallel). Errors carry the URI and
  // the offset.
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                        char* dst) const = 0;

  // Gives up on this source: calls in progress stop at their next attempt
  // (no more retries) and later calls fail with Cancelled. For a reader that
  // is being destroyed: its queued reads then end at once, and a stalled one
  // ends with its current request. Thread-safe; a no-op where reads cannot
  // stall (local files).
  virtual void Cancel() const {}
};

}  // namespace ffm

#endif  // FFM_IO_BYTE_SOURCE_H_
