#include "ffm/io/cache_config.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ffm {

absl::StatusOr<uint64_t> ParseByteSize(const std::string& what,
                                       const std::string& text) {
  std::string digits = absl::AsciiStrToUpper(text);
  int shift = 0;
  if (!digits.empty() && digits.back() == 'B') digits.pop_back();
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      default: break;
    }
    if (shift != 0) digits.pop_back();
  }
  uint64_t n = 0;
  if (!absl::SimpleAtoi(digits, &n) || (shift != 0 && (n >> (63 - shift)) != 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " must be a number of bytes (e.g. 1073741824 or 200G), got '",
        text, "'"));
  }
  return n << shift;
}

absl::StatusOr<CacheConfig> CacheConfig::Make(const std::string& settings,
                                              const Getenv& getenv) {
  CacheConfig c;
  if (const char* dir = getenv("TF_FFM_CACHE_DIR")) c.dir = dir;
  if (const char* size = getenv("TF_FFM_CACHE_SIZE"); size && *size) {
    absl::StatusOr<uint64_t> n = ParseByteSize("TF_FFM_CACHE_SIZE", size);
    if (!n.ok()) return n.status();
    c.max_bytes = *n;
  }
  for (absl::string_view item :
       absl::StrSplit(settings, ';', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    const std::string& key = kv.first;
    const std::string& value = kv.second;
    const std::string what = absl::StrCat("cache option ", key);
    if (key == "dir") {
      c.dir = value;
    } else if (key == "size" || key == "block_size") {
      absl::StatusOr<uint64_t> n = ParseByteSize(what, value);
      if (!n.ok()) return n.status();
      (key == "size" ? c.max_bytes : c.block_size) = *n;
    } else if (key == "mounts") {
      std::string lower = absl::AsciiStrToLower(value);
      if (lower != "true" && lower != "false" && lower != "1" && lower != "0") {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " must be true or false, got '", value, "'"));
      }
      c.mounts = lower == "true" || lower == "1";
    } else if (key == "lock_wait") {
      double s = 0;
      if (!absl::SimpleAtod(value, &s) || s < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, " must be a number of seconds >= 0, got '", value, "'"));
      }
      c.lock_wait = absl::Seconds(s);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown cache option '", key, "'"));
    }
  }
  // Entries are named by block number, so a size is part of the layout:
  // a power of two keeps every prefetcher read on block boundaries.
  if (c.block_size < 4096 || c.block_size > (256ull << 20) ||
      (c.block_size & (c.block_size - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cache option block_size must be a power of two in [4 KiB, 256 MiB], "
        "got ", c.block_size));
  }
  return c;
}

absl::StatusOr<CacheConfig> CacheConfig::Make(const std::string& settings) {
  return Make(settings, [](const char* name) { return std::getenv(name); });
}

}  // namespace ffm
