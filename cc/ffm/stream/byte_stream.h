// A forward-only stream of bytes the framing parser reads from: the raw
// chunks of a file (ChunkStream) or their inflated form (ZlibStream).
#ifndef FFM_STREAM_BYTE_STREAM_H_
#define FFM_STREAM_BYTE_STREAM_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ffm {

class ByteStream {
 public:
  virtual ~ByteStream() = default;

  // Reads up to `n` bytes into `dst`; fewer only at the end of the stream.
  virtual absl::StatusOr<size_t> Read(size_t n, char* dst) = 0;

  // Bytes consumed so far; for a compressed file, of the inflated stream.
  virtual uint64_t position() const = 0;

  // An upper bound on the bytes left, so a corrupt length field can be
  // rejected before anything is allocated for it.
  virtual uint64_t max_remaining() const = 0;

  // Skips `n` bytes (restoring a checkpointed position); DataLoss if the
  // stream ends first.
  virtual absl::Status Skip(uint64_t n) = 0;
};

}  // namespace ffm

#endif  // FFM_STREAM_BYTE_STREAM_H_
