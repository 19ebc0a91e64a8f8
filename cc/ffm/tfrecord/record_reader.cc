#include "ffm/tfrecord/record_reader.h"

#include "absl/strings/str_cat.h"
#include "ffm/tfrecord/format.h"

namespace ffm {

using tfrecord::kFooterSize;
using tfrecord::kHeaderSize;

RecordReader::RecordReader(ByteStream* stream, std::string uri,
                           bool verify_crc)
    : stream_(stream), uri_(std::move(uri)), verify_crc_(verify_crc) {}

absl::Status RecordReader::Corrupt(uint64_t offset,
                                   absl::string_view what) const {
  return absl::DataLossError(absl::StrCat(
      uri_, ": ", what, " in record at byte offset ", offset,
      offset == 0 ? " (is this a TFRecord file? is the compression_type right?)"
                  : ""));
}

absl::Status RecordReader::ReadRecord(
    absl::FunctionRef<char*(size_t)> allocate) {
  const uint64_t offset = stream_->position();
  char header[kHeaderSize];
  absl::StatusOr<size_t> got = stream_->Read(kHeaderSize, header);
  if (!got.ok()) return got.status();
  if (*got == 0) {
    return absl::OutOfRangeError(
        absl::StrCat(uri_, ": end of file at byte offset ", offset));
  }
  if (*got < kHeaderSize) {
    return Corrupt(offset, absl::StrCat("truncated header (", *got, " of ",
                                        kHeaderSize, " bytes)"));
  }
  uint64_t length = 0;
  if (!tfrecord::ParseHeader(header, verify_crc_, &length)) {
    return Corrupt(offset, "length CRC mismatch");
  }
  // A length beyond what the stream can still hold is corrupt (or the file
  // is truncated); checking first avoids allocating a bogus size.
  if (length > stream_->max_remaining() ||
      stream_->max_remaining() - length < kFooterSize) {
    return Corrupt(offset,
                   absl::StrCat("truncated data (length field says ", length,
                                " bytes, at most ", stream_->max_remaining(),
                                " remain)"));
  }
  char* data = allocate(static_cast<size_t>(length));
  got = stream_->Read(length, data);
  if (!got.ok()) return got.status();
  char footer[kFooterSize];
  absl::StatusOr<size_t> got_footer =
      *got == length ? stream_->Read(kFooterSize, footer) : size_t{0};
  if (!got_footer.ok()) return got_footer.status();
  if (*got != length || *got_footer != kFooterSize) {
    return Corrupt(offset, absl::StrCat("truncated data (", length,
                                        " bytes expected)"));
  }
  if (verify_crc_ &&
      !tfrecord::DataCrcMatches(absl::string_view(data, length), footer)) {
    return Corrupt(offset, "data CRC mismatch");
  }
  return absl::OkStatus();
}

}  // namespace ffm
