// The TFRecord on-disk format, shared by the parser, the index, the Python
// module and tests: the one place that knows the framing. (Another record
// format would get a folder of its own beside this one; streams, prefetch
// and storage below it are format-neutral.)
//
//   uint64  length          little-endian
//   uint32  masked_crc32c(length bytes)
//   byte    data[length]
//   uint32  masked_crc32c(data)
#ifndef FFM_TFRECORD_FORMAT_H_
#define FFM_TFRECORD_FORMAT_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/crc/crc32c.h"
#include "absl/crc/internal/crc32c_inline.h"
#include "absl/strings/string_view.h"

namespace ffm {
namespace tfrecord {

constexpr size_t kLengthSize = 8;
constexpr size_t kHeaderSize = kLengthSize + 4;  // length + its masked CRC
constexpr size_t kFooterSize = 4;                // masked CRC of the data
// Bytes a record takes on disk beyond its data.
constexpr size_t kFramingSize = kHeaderSize + kFooterSize;
constexpr uint32_t kMaskDelta = 0xa282ead8u;

// CRC32C with absl. TensorFlow's bundled absl was compiled without SSE4.2,
// so its out-of-line Crc32c is the portable table loop; absl's inline path
// uses the CRC32 instruction when this file is compiled with -msse4.2
// -mpclmul (as CMakeLists.txt does on x86-64), for any length.
inline uint32_t Crc32c(absl::string_view bytes) {
  uint32_t crc = 0;
  if (absl::crc_internal::ExtendCrc32cInline(&crc, bytes.data(),
                                             bytes.size())) {
    return crc;
  }
  return static_cast<uint32_t>(absl::ComputeCrc32c(bytes));
}

// Rotated and offset so that a CRC of data that embeds CRCs stays strong.
inline uint32_t MaskCrc(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}

inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));  // the format is little-endian, as is x86/ARM
  return v;
}

inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline void EncodeFixed32(char* p, uint32_t v) { std::memcpy(p, &v, sizeof(v)); }
inline void EncodeFixed64(char* p, uint64_t v) { std::memcpy(p, &v, sizeof(v)); }

// Bytes a record of `data_length` takes in its file.
constexpr uint64_t FramedSize(uint64_t data_length) {
  return data_length + kFramingSize;
}

// Checks a record header and returns the data length it announces; false if
// `verify_crc` and the length's CRC does not match.
inline bool ParseHeader(const char* header, bool verify_crc, uint64_t* length) {
  *length = DecodeFixed64(header);
  return !verify_crc ||
         MaskCrc(Crc32c(absl::string_view(header, kLengthSize))) ==
             DecodeFixed32(header + kLengthSize);
}

// True if `data` matches the masked CRC in the record's footer.
inline bool DataCrcMatches(absl::string_view data, const char* footer) {
  return MaskCrc(Crc32c(data)) == DecodeFixed32(footer);
}

// Frames one record; for tests and the benchmark's data generator.
inline std::string FrameRecord(absl::string_view data) {
  std::string out(kHeaderSize + data.size() + kFooterSize, '\0');
  EncodeFixed64(&out[0], data.size());
  EncodeFixed32(&out[kLengthSize],
                MaskCrc(Crc32c(absl::string_view(out.data(), kLengthSize))));
  std::memcpy(&out[kHeaderSize], data.data(), data.size());
  EncodeFixed32(&out[kHeaderSize + data.size()], MaskCrc(Crc32c(data)));
  return out;
}

}  // namespace tfrecord
}  // namespace ffm

#endif  // FFM_TFRECORD_FORMAT_H_
