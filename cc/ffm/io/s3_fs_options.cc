#include "ffm/io/s3_fs_options.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ffm {

namespace {

// An unset variable leaves `*out` as it is.
absl::Status ReadNumber(const S3FsOptions::Getenv& getenv, const char* name,
                        uint64_t* out) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return absl::OkStatus();
  if (!absl::SimpleAtoi(v, out)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, "='", v, "' is not a whole number"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<S3FsOptions> S3FsOptions::FromEnv(const Getenv& getenv) {
  S3FsOptions o;
  uint64_t parts = static_cast<uint64_t>(o.write.parts_in_flight);
  for (auto [name, out] :
       {std::pair<const char*, uint64_t*>{"TF_FFM_S3_PARTS_IN_FLIGHT", &parts},
        {"TF_FFM_S3_READAHEAD", &o.readahead_bytes}}) {
    absl::Status s = ReadNumber(getenv, name, out);
    if (!s.ok()) return s;
  }
  o.write.parts_in_flight = static_cast<int>(std::min<uint64_t>(parts, 1 << 20));
  absl::Status s = o.write.Validate();
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(s.message(), " (TF_FFM_S3_PARTS_IN_FLIGHT)"));
  }
  if (o.readahead_bytes < (1ull << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TF_FFM_S3_READAHEAD=", o.readahead_bytes, " is under 1 MiB"));
  }
  o.readahead_per_file = std::min(o.readahead_per_file, o.readahead_bytes);
  return o;
}

absl::StatusOr<S3FsOptions> S3FsOptions::FromEnv() {
  return FromEnv([](const char* name) { return std::getenv(name); });
}

}  // namespace ffm
