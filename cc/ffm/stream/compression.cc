#include "ffm/stream/compression.h"

#include "absl/strings/str_cat.h"

namespace ffm {

absl::StatusOr<Compression> ParseCompression(absl::string_view type) {
  if (type.empty()) return Compression::kNone;
  if (type == "ZLIB") return Compression::kZlib;
  if (type == "GZIP") return Compression::kGzip;
  return absl::InvalidArgumentError(absl::StrCat(
      "compression_type must be '', 'ZLIB' or 'GZIP', got '", type, "'"));
}

}  // namespace ffm
