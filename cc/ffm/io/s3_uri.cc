#include "ffm/io/s3_uri.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ffm {

namespace {

bool ValidBucket(const std::string& b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' ||
          c == '-')) {
      return false;
    }
  }
  return absl::ascii_isalnum(b.front()) && absl::ascii_isalnum(b.back());
}

}  // namespace

absl::StatusOr<S3Uri> ParseS3Uri(const std::string& uri, bool require_key) {
  if (!absl::StartsWith(uri, "s3://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", uri, "' is not an s3://bucket/key URI"));
  }
  std::string rest = uri.substr(5);
  size_t slash = rest.find('/');
  S3Uri out;
  out.bucket = rest.substr(0, slash);
  if (slash != std::string::npos) out.key = rest.substr(slash + 1);
  if (!ValidBucket(out.bucket)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", uri, "': '", out.bucket,
        "' is not a valid S3 bucket name (3-63 characters of a-z, 0-9, '.', "
        "'-')"));
  }
  if (require_key && (out.key.empty() || absl::EndsWith(out.key, "/"))) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", uri, "' names no object (expected s3://bucket/key)"));
  }
  return out;
}

}  // namespace ffm
