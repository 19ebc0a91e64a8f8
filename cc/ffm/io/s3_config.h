// How to reach S3: endpoint, region, credentials mode, TLS and retry
// settings. Plain data with no Arrow or AWS types, so it is built and tested
// anywhere; S3Source turns it into Arrow's S3Options.
#ifndef FFM_IO_S3_CONFIG_H_
#define FFM_IO_S3_CONFIG_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ffm {

struct S3Config {
  std::string endpoint;  // host[:port]; empty = AWS's regional endpoint
  std::string scheme = "https";
  std::string region;          // empty = the SDK's resolution
  bool anonymous = false;      // unsigned requests (public buckets)
  std::string ca_file;         // PEM bundle replacing the system CAs
  bool verify_tls = true;
  // Attempts per request (a ranged GET, the HEAD of an open, a listing), the
  // first one included. The AWS SDK is told not to retry: S3Source's loop
  // makes every attempt, with exponential backoff and full jitter.
  int max_attempts = 10;
  double connect_timeout_s = 10;
  // Stall timeout: a request that receives nothing for this long is
  // abandoned and retried (on a new connection) within the same budget. The
  // SDK's curl client applies its request timeout as curl's low-speed limit
  // (under 1 byte/s for this many whole seconds), also on Linux, although
  // Arrow's header calls S3Options::request_timeout Windows/macOS only:
  // measured, a first-byte stall is cut at 2.1 s with 2, a mid-body stall
  // (server SIGSTOPped) likewise. See README, Reliability.
  double request_timeout_s = 15;
  // Overall time for one request, retries included: no new attempt starts
  // (and no backoff sleeps) past it. An attempt already running is not cut.
  double read_deadline_s = 30;

  // The standard AWS environment: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL,
  // AWS_REGION / AWS_DEFAULT_REGION, AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS.
  // Credentials (keys, AWS_PROFILE, config files, container and instance
  // roles) are left to the SDK's default chain, which reads them itself.
  // Arrow does not read the endpoint variables, hence this.
  using Getenv = std::function<const char*(const char*)>;
  static absl::StatusOr<S3Config> FromEnv(const Getenv& getenv);
  static absl::StatusOr<S3Config> FromEnv();

  // Applies explicit settings "key=value;key=value" (from tf_ffm.S3Options):
  // endpoint_url, region, anonymous, ca_file, verify_tls, max_attempts,
  // connect_timeout, request_timeout, read_deadline. Unknown keys are
  // InvalidArgument.
  absl::Status Apply(const std::string& settings);

  // Sets endpoint and scheme from "http(s)://host[:port][/]".
  absl::Status SetEndpointUrl(const std::string& url);

  // Identifies configurations that can share one client and its pool.
  std::string CacheKey() const;
};

}  // namespace ffm

#endif  // FFM_IO_S3_CONFIG_H_
