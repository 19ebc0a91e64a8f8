#include "ffm/io/s3_source.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "arrow/filesystem/s3fs.h"
#include "arrow/io/interfaces.h"
#include "arrow/io/type_fwd.h"
#include "ffm/io/io_stats.h"
#include "ffm/io/retry.h"
#include "ffm/io/s3_uri.h"

namespace ffm {

namespace {

constexpr int kMaxConnections = 256;

// The certificate or the CA configuration is wrong: retrying cannot help.
// Only curl's verification codes count, not any text mentioning SSL: a
// connection dropped mid-body over TLS reads "curlCode: 56, ... OpenSSL
// SSL_read: ... unexpected eof" and is transient.
bool IsTlsVerificationFailure(absl::string_view m) {
  for (absl::string_view code : {"curlCode: 58,", "curlCode: 60,",
                                 "curlCode: 77,", "curlCode: 83,",
                                 "curlCode: 90,", "curlCode: 91,"}) {
    if (absl::StrContains(m, code)) return true;
  }
  return false;
}

// Arrow reports AWS failures as IOError text; the AWS error name or HTTP
// status in it is all there is to classify them by.
absl::Status FromArrow(const arrow::Status& s, const std::string& context) {
  const std::string& m = s.message();
  auto has = [&m](absl::string_view needle) {
    return absl::StrContains(m, needle);
  };
  std::string msg = absl::StrCat(context, ": ", m);
  if (has("Path does not exist") || has("NO_SUCH_KEY") ||
      has("NO_SUCH_BUCKET") || has("NoSuchBucket") || has("NoSuchKey") ||
      has("HTTP status 404") || has("RESOURCE_NOT_FOUND")) {
    return absl::NotFoundError(msg);
  }
  if (has("INVALID_ACCESS_KEY_ID") || has("InvalidAccessKeyId") ||
      has("SIGNATURE_DOES_NOT_MATCH") || has("SignatureDoesNotMatch") ||
      has("MISSING_AUTHENTICATION_TOKEN") || has("EXPIRED_TOKEN") ||
      has("INVALID_CLIENT_TOKEN_ID")) {
    return absl::UnauthenticatedError(absl::StrCat(
        msg, " (check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/"
             "AWS_SESSION_TOKEN or AWS_PROFILE)"));
  }
  if (has("ACCESS_DENIED") || has("AccessDenied") || has("HTTP status 403")) {
    return absl::PermissionDeniedError(absl::StrCat(
        msg, " (check the credentials in use and the bucket policy)"));
  }
  if (IsTlsVerificationFailure(m) || has("curlCode: 35,")) {
    return absl::FailedPreconditionError(absl::StrCat(
        msg, " (TLS verification failed: set AWS_CA_BUNDLE or "
             "S3Options(ca_file=...) for a private CA)"));
  }
  if (has("SLOW_DOWN") || has("SlowDown") || has("HTTP status 503") ||
      has("THROTTLING")) {
    return absl::ResourceExhaustedError(msg);
  }
  if (has("curlCode") || has("HTTP status 5") || has("NETWORK_CONNECTION") ||
      has("INTERNAL_FAILURE") || has("SERVICE_UNAVAILABLE") ||
      has("REQUEST_TIMEOUT")) {
    return absl::UnavailableError(msg);
  }
  if (s.IsInvalid()) return absl::InvalidArgumentError(msg);
  return absl::UnknownError(msg);
}

// The SDK's standard retries, except for a certificate that does not verify:
// the SDK counts that as a network error and retried it for about 90 s
// (10 attempts with backoff) before reporting it.
class NoRetryOnTlsVerification final : public arrow::fs::S3RetryStrategy {
 public:
  explicit NoRetryOnTlsVerification(std::shared_ptr<S3RetryStrategy> base)
      : base_(std::move(base)) {}
  bool ShouldRetry(const AWSErrorDetail& error,
                   int64_t attempted_retries) override {
    return !IsTlsVerificationFailure(error.message) &&
           base_->ShouldRetry(error, attempted_retries);
  }
  int64_t CalculateDelayBeforeNextRetry(const AWSErrorDetail& error,
                                        int64_t attempted_retries) override {
    return base_->CalculateDelayBeforeNextRetry(error, attempted_retries);
  }

 private:
  const std::shared_ptr<S3RetryStrategy> base_;
};

arrow::fs::S3Options ToArrowOptions(const S3Config& c) {
  arrow::fs::S3Options o = c.anonymous ? arrow::fs::S3Options::Anonymous()
                                       : arrow::fs::S3Options::Defaults();
  if (!c.region.empty()) o.region = c.region;
  if (!c.endpoint.empty()) {
    o.endpoint_override = c.endpoint;  // also selects path-style addressing
    if (c.region.empty()) o.region = "us-east-1";
  }
  o.scheme = c.scheme;
  o.connect_timeout = c.connect_timeout_s;
  o.request_timeout = c.request_timeout_s;
  o.tls_ca_file_path = c.ca_file;
  o.tls_verify_certificates = c.verify_tls;
  o.retry_strategy = std::make_shared<NoRetryOnTlsVerification>(
      arrow::fs::S3RetryStrategy::GetAwsStandardRetryStrategy(c.max_attempts));
  return o;
}

// One S3FileSystem (client + connection pool) per configuration, for the
// life of the process; Arrow's S3 layer is finalised at exit.
absl::StatusOr<std::shared_ptr<arrow::fs::S3FileSystem>> SharedFileSystem(
    const S3Config& config) {
  static std::mutex* mu = new std::mutex;
  static auto* cache =
      new std::map<std::string, std::shared_ptr<arrow::fs::S3FileSystem>>;
  std::lock_guard<std::mutex> lock(*mu);
  auto it = cache->find(config.CacheKey());
  if (it != cache->end()) return it->second;
  if (!arrow::fs::IsS3Initialized()) {
    arrow::fs::S3GlobalOptions global = arrow::fs::S3GlobalOptions::Defaults();
    arrow::Status init = arrow::fs::InitializeS3(global);
    if (!init.ok() && !arrow::fs::IsS3Initialized()) {
      return FromArrow(init, "initialising S3");
    }
  }
  // Arrow sizes the client's connection pool as max(IO pool capacity, 25):
  // random reads need more requests in flight than that.
  if (arrow::io::GetIOThreadPoolCapacity() < kMaxConnections) {
    (void)arrow::io::SetIOThreadPoolCapacity(kMaxConnections);
  }
  auto fs = arrow::fs::S3FileSystem::Make(ToArrowOptions(config));
  if (!fs.ok()) return FromArrow(fs.status(), "creating the S3 client");
  (*cache)[config.CacheKey()] = *fs;
  // Registered only once a client exists: Arrow creates the function-local
  // statics that finalisation uses (its client finaliser) when it builds the
  // first client, and exit handlers run in reverse order of registration, so
  // this one must come after them or it would finalise through destroyed
  // objects (abort or segfault at exit).
  static bool finalize_at_exit = [] {
    std::atexit([] {
      std::lock_guard<std::mutex> lock(*mu);
      cache->clear();
      (void)arrow::fs::EnsureS3Finalized();
    });
    return true;
  }();
  (void)finalize_at_exit;
  return *fs;
}

class S3Source final : public ByteSource {
 public:
  S3Source(std::string uri, std::shared_ptr<arrow::io::RandomAccessFile> file,
           uint64_t size, RetryPolicy retry)
      : uri_(std::move(uri)), file_(std::move(file)), size_(size),
        retry_(retry) {}

  const std::string& uri() const override { return uri_; }
  uint64_t size() const override { return size_; }

  // The SDK retries each GET itself; this loop adds resuming a range whose
  // body ended early, from the first byte not yet received, so a retry
  // never delivers a byte twice.
  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                char* dst) const override {
    if (offset >= size_) return size_t{0};
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
    size_t done = 0;
    int failures = 0;
    while (done < n) {
      arrow::Result<int64_t> got =
          file_->ReadAt(static_cast<int64_t>(offset + done),
                        static_cast<int64_t>(n - done), dst + done);
      if (got.ok() && *got > 0) {
        done += static_cast<size_t>(*got);
        failures = 0;  // progress: the retry budget starts over
        continue;
      }
      std::string where = absl::StrCat(uri_, ": read at byte offset ",
                                        offset + done);
      absl::Status error =
          got.ok() ? absl::UnavailableError(absl::StrCat(where, " returned no data"))
                   : FromArrow(got.status(), where);
      if (!IsRetryable(error)) return error;
      if (++failures >= retry_.max_attempts) {
        return absl::Status(error.code(),
                            absl::StrCat(error.message(), " (gave up after ",
                                         failures, " attempts)"));
      }
      Count(IoStats::Global().retries);
      BackoffBeforeRetry(retry_, failures);
    }
    return done;
  }

 private:
  const std::string uri_;
  const std::shared_ptr<arrow::io::RandomAccessFile> file_;
  const uint64_t size_;
  const RetryPolicy retry_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ByteSource>> OpenS3Source(
    const std::string& uri, const S3Config& config) {
  absl::StatusOr<S3Uri> parsed = ParseS3Uri(uri, /*require_key=*/true);
  if (!parsed.ok()) return parsed.status();
  auto fs = SharedFileSystem(config);
  if (!fs.ok()) return fs.status();
  auto file = (*fs)->OpenInputFile(parsed->bucket + "/" + parsed->key);
  if (!file.ok()) return FromArrow(file.status(), uri);
  auto size = (*file)->GetSize();
  if (!size.ok()) return FromArrow(size.status(), uri);
  RetryPolicy retry;
  retry.max_attempts = config.max_attempts;
  return std::unique_ptr<ByteSource>(
      new S3Source(uri, *std::move(file), static_cast<uint64_t>(*size), retry));
}

absl::Status WriteS3Object(const std::string& uri, absl::string_view bytes,
                           const S3Config& config) {
  absl::StatusOr<S3Uri> parsed = ParseS3Uri(uri, /*require_key=*/true);
  if (!parsed.ok()) return parsed.status();
  auto fs = SharedFileSystem(config);
  if (!fs.ok()) return fs.status();
  auto out = (*fs)->OpenOutputStream(parsed->bucket + "/" + parsed->key);
  if (!out.ok()) return FromArrow(out.status(), uri);
  arrow::Status s = (*out)->Write(bytes.data(), static_cast<int64_t>(bytes.size()));
  if (s.ok()) s = (*out)->Close();
  if (!s.ok()) return FromArrow(s, uri);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ListS3(const std::string& dir_uri,
                                                const std::string& name_pattern,
                                                const S3Config& config) {
  absl::StatusOr<S3Uri> parsed = ParseS3Uri(dir_uri, /*require_key=*/false);
  if (!parsed.ok()) return parsed.status();
  auto fs = SharedFileSystem(config);
  if (!fs.ok()) return fs.status();
  arrow::fs::FileSelector selector;
  std::string key = parsed->key;
  while (!key.empty() && key.back() == '/') key.pop_back();
  selector.base_dir = key.empty() ? parsed->bucket : parsed->bucket + "/" + key;
  selector.allow_not_found = true;
  auto infos = (*fs)->GetFileInfo(selector);
  if (!infos.ok()) return FromArrow(infos.status(), dir_uri);
  std::vector<std::string> out;
  for (const arrow::fs::FileInfo& info : *infos) {
    if (info.type() != arrow::fs::FileType::File) continue;
    std::string name = info.base_name();
    if (fnmatch(name_pattern.c_str(), name.c_str(), 0) == 0) {
      out.push_back("s3://" + info.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ffm
