#include "ffm/io/s3_config.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ffm {

namespace {

absl::StatusOr<bool> ParseBool(absl::string_view key, absl::string_view v) {
  std::string lower = absl::AsciiStrToLower(v);
  if (lower == "1" || lower == "true") return true;
  if (lower == "0" || lower == "false") return false;
  return absl::InvalidArgumentError(
      absl::StrCat("S3 option ", key, " must be true or false, got '", v, "'"));
}

absl::StatusOr<double> ParseSeconds(absl::string_view key, absl::string_view v) {
  double d;
  if (!absl::SimpleAtod(v, &d) || d <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "S3 option ", key, " must be a positive number of seconds, got '", v,
        "'"));
  }
  return d;
}

absl::StatusOr<int> ParseAttempts(absl::string_view key, absl::string_view v) {
  int n;
  if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "S3 option ", key, " must be an integer in [1, 100], got '", v, "'"));
  }
  return n;
}

}  // namespace

absl::Status S3Config::SetEndpointUrl(const std::string& url) {
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "https://")) {
    scheme = "https";
  } else if (absl::ConsumePrefix(&rest, "http://")) {
    scheme = "http";
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "S3 endpoint URL must start with http:// or https://, got '", url,
        "'"));
  }
  while (absl::ConsumeSuffix(&rest, "/")) {
  }
  if (rest.empty() || absl::StrContains(rest, "/")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "S3 endpoint URL must be scheme://host[:port], got '", url, "'"));
  }
  endpoint = std::string(rest);
  return absl::OkStatus();
}

absl::StatusOr<S3Config> S3Config::FromEnv(const Getenv& getenv) {
  S3Config c;
  auto get = [&getenv](const char* name) -> std::string {
    const char* v = getenv(name);
    return v == nullptr ? "" : v;
  };
  std::string endpoint = get("AWS_ENDPOINT_URL_S3");
  if (endpoint.empty()) endpoint = get("AWS_ENDPOINT_URL");
  if (!endpoint.empty()) {
    absl::Status s = c.SetEndpointUrl(endpoint);
    if (!s.ok()) return s;
  }
  c.region = get("AWS_REGION");
  if (c.region.empty()) c.region = get("AWS_DEFAULT_REGION");
  c.ca_file = get("AWS_CA_BUNDLE");
  std::string attempts = get("AWS_MAX_ATTEMPTS");
  if (!attempts.empty()) {
    absl::StatusOr<int> n = ParseAttempts("AWS_MAX_ATTEMPTS", attempts);
    if (!n.ok()) return n.status();
    c.max_attempts = *n;
  }
  return c;
}

absl::StatusOr<S3Config> S3Config::FromEnv() {
  return FromEnv([](const char* name) { return std::getenv(name); });
}

absl::Status S3Config::Apply(const std::string& settings) {
  for (absl::string_view item :
       absl::StrSplit(settings, ';', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    absl::string_view key = kv.first, value = kv.second;
    absl::Status s;
    if (key == "endpoint_url") {
      s = SetEndpointUrl(std::string(value));
    } else if (key == "region") {
      region = std::string(value);
    } else if (key == "ca_file") {
      ca_file = std::string(value);
    } else if (key == "anonymous" || key == "verify_tls") {
      absl::StatusOr<bool> b = ParseBool(key, value);
      s = b.status();
      if (b.ok()) (key == "anonymous" ? anonymous : verify_tls) = *b;
    } else if (key == "max_attempts") {
      absl::StatusOr<int> n = ParseAttempts(key, value);
      s = n.status();
      if (n.ok()) max_attempts = *n;
    } else if (key == "connect_timeout" || key == "request_timeout" ||
               key == "read_deadline") {
      absl::StatusOr<double> d = ParseSeconds(key, value);
      s = d.status();
      if (d.ok()) {
        (key == "connect_timeout"   ? connect_timeout_s
         : key == "request_timeout" ? request_timeout_s
                                    : read_deadline_s) = *d;
      }
    } else {
      s = absl::InvalidArgumentError(
          absl::StrCat("unknown S3 option '", key, "'"));
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string S3Config::CacheKey() const {
  return absl::StrCat(scheme, "://", endpoint, "|", region, "|", anonymous,
                      "|", ca_file, "|", verify_tls, "|", max_attempts, "|",
                      connect_timeout_s, "|", request_timeout_s, "|",
                      read_deadline_s);
}

}  // namespace ffm
