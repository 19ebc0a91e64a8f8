// Parses TFRecord framing from a ByteStream, one record at a time, verifying
// both masked CRC32C values. Works on whatever bytes the stream yields, so it
// is tested on in-memory buffers and serves local, mounted and S3 files alike.
#ifndef FFM_TFRECORD_RECORD_READER_H_
#define FFM_TFRECORD_RECORD_READER_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "ffm/stream/byte_stream.h"

namespace ffm {

class RecordReader {
 public:
  // `stream` must outlive the reader; `uri` names the file in errors.
  RecordReader(ByteStream* stream, std::string uri, bool verify_crc);

  // Reads the next record. `allocate(length)` is called once the length is
  // known and returns where the `length` data bytes go (e.g. a tensor's
  // buffer: no intermediate copy). Returns OutOfRange at a clean end of
  // file, DataLoss for a truncated or corrupted record; either way the
  // message names the file and the byte offset of the record.
  absl::Status ReadRecord(absl::FunctionRef<char*(size_t)> allocate);

  // Offset of the next record (in the inflated stream if compressed).
  uint64_t position() const { return stream_->position(); }

 private:
  absl::Status Corrupt(uint64_t offset, absl::string_view what) const;

  ByteStream* const stream_;
  const std::string uri_;
  const bool verify_crc_;
};

}  // namespace ffm

#endif  // FFM_TFRECORD_RECORD_READER_H_
