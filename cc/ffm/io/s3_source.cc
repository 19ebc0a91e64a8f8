#include "ffm/io/s3_source.h"

#include <fnmatch.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "arrow/filesystem/s3fs.h"
#include "arrow/io/interfaces.h"
#include "arrow/io/type_fwd.h"
#include "arrow/util/key_value_metadata.h"
#include "ffm/io/io_stats.h"
#include "ffm/io/retry.h"
#include "ffm/io/s3_arrow.h"
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
// status in it is all there is to classify them by. `context` (may be empty)
// is put before the message.
//
// Credentials: a HEAD answered 403 has no body, so a wrong secret, an unknown
// key id and a policy that denies access look the same on a read or an index
// load; a listing says SignatureDoesNotMatch. So that one `except` covers
// every call, all of them are PermissionDenied (tf.errors.PermissionDeniedError),
// with the server's reason in the message when it gave one.
}  // namespace

absl::Status FromArrow(const arrow::Status& s, const std::string& context) {
  const std::string& m = s.message();
  auto has = [&m](absl::string_view needle) {
    return absl::StrContains(m, needle);
  };
  std::string msg = context.empty() ? m : absl::StrCat(context, ": ", m);
  if (has("Path does not exist") || has("NO_SUCH_KEY") ||
      has("NO_SUCH_BUCKET") || has("NoSuchBucket") || has("NoSuchKey") ||
      has("HTTP status 404") || has("RESOURCE_NOT_FOUND")) {
    return absl::NotFoundError(msg);
  }
  if (has("INVALID_ACCESS_KEY_ID") || has("InvalidAccessKeyId") ||
      has("SIGNATURE_DOES_NOT_MATCH") || has("SignatureDoesNotMatch") ||
      has("MISSING_AUTHENTICATION_TOKEN") || has("EXPIRED_TOKEN") ||
      has("INVALID_CLIENT_TOKEN_ID") || has("ACCESS_DENIED") ||
      has("AccessDenied") || has("HTTP status 403")) {
    return absl::PermissionDeniedError(absl::StrCat(
        msg, " (credentials rejected or access denied: check AWS_ACCESS_KEY_ID/"
             "AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN or AWS_PROFILE, and the "
             "bucket policy)"));
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

namespace {

// The SDK makes exactly one attempt per call: every retry is ours
// (RetryBudget), so max_attempts is the number of attempts in total rather
// than ours times the SDK's, and a deadline can bound them.
class NeverRetry final : public arrow::fs::S3RetryStrategy {
 public:
  bool ShouldRetry(const AWSErrorDetail&, int64_t) override { return false; }
  int64_t CalculateDelayBeforeNextRetry(const AWSErrorDetail&,
                                        int64_t) override {
    return 0;
  }
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
  // Reaches curl as CURLOPT_LOW_SPEED_TIME (limit 1 byte/s): the stall
  // timeout, on Linux too (see S3Config::request_timeout_s).
  o.request_timeout = c.request_timeout_s;
  o.tls_ca_file_path = c.ca_file;
  o.tls_verify_certificates = c.verify_tls;
  o.retry_strategy = std::make_shared<NeverRetry>();
  return o;
}

}  // namespace

RetryPolicy PolicyFor(const S3Config& c) {
  RetryPolicy p;
  p.max_attempts = c.max_attempts;
  p.deadline_s = c.read_deadline_s;
  return p;
}

// Runs `attempt` (one request, an absl::Status without context) within one
// budget; the final error is prefixed with `what`.
absl::Status WithRetries(const RetryPolicy& policy, const std::string& what,
                         const std::function<absl::Status()>& attempt) {
  RetryBudget budget(policy);
  while (true) {
    absl::Status s = attempt();
    if (s.ok()) return s;
    absl::Status give_up = budget.OnFailure(s, what);
    if (!give_up.ok()) return give_up;
    Count(IoStats::Global().retries);
  }
}

// aws-sdk-cpp >= 1.11.4xx defaults to validating response checksums "when
// supported": every GetObject asks for them (x-amz-checksum-mode) and each
// 16 KiB piece of a body curl hands over is then checked against every
// algorithm's header name, building a string stream per algorithm; that was
// about a quarter of the reading process's CPU. S3 sends no whole-object
// checksum for a ranged GET, and every read here is ranged, so nothing was
// ever validated: the records carry their own CRC32C, which the reader checks.
// Arrow has no option for it; the SDK reads AWS_RESPONSE_CHECKSUM_VALIDATION
// (before the profile's response_checksum_validation) when a client is
// built, so it is set there unless the environment already has a value
// (when_supported turns validation back on). Called under SharedFileSystem's
// lock, before each client is built.
void SkipResponseChecksumsUnlessAsked() {
  (void)setenv("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required",
               /*overwrite=*/0);
}

// One S3FileSystem (client + connection pool) per configuration, for the
// life of the process; Arrow's S3 layer is finalised at exit.
absl::StatusOr<std::shared_ptr<arrow::fs::S3FileSystem>> SharedFileSystem(
    const S3Config& config, S3Client client) {
  static std::mutex* mu = new std::mutex;
  static auto* cache =
      new std::map<std::string, std::shared_ptr<arrow::fs::S3FileSystem>>;
  std::lock_guard<std::mutex> lock(*mu);
  const std::string key =
      absl::StrCat(config.CacheKey(), "|", static_cast<int>(client));
  auto it = cache->find(key);
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
  SkipResponseChecksumsUnlessAsked();
  arrow::fs::S3Options options = ToArrowOptions(config);
  if (client != S3Client::kRequests) {
    // Arrow sends the parts of a multipart upload from its own threads, where
    // our retry loop cannot reach them: the SDK retries each request (a part
    // PUT is idempotent), with the same number of attempts.
    options.retry_strategy =
        arrow::fs::S3RetryStrategy::GetAwsStandardRetryStrategy(
            config.max_attempts);
    options.background_writes = true;
    // Without a delayed open Arrow starts a multipart upload at once, and an
    // object written in one go takes three requests instead of a PutObject;
    // with it, Arrow re-buffers the first part, so the part sizes are no
    // longer the writer's: one client of each kind.
    options.allow_delayed_open = client == S3Client::kWholeObjects;
  }
  auto fs = arrow::fs::S3FileSystem::Make(options);
  if (!fs.ok()) return FromArrow(fs.status(), "creating the S3 client");
  (*cache)[key] = *fs;
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

namespace {

class S3Source final : public ByteSource {
 public:
  S3Source(std::string uri, std::shared_ptr<arrow::io::RandomAccessFile> file,
           uint64_t size, std::string version, RetryPolicy retry)
      : uri_(std::move(uri)), file_(std::move(file)), size_(size),
        version_(std::move(version)), retry_(retry) {}

  const std::string& uri() const override { return uri_; }
  uint64_t size() const override { return size_; }
  std::string version() const override { return version_; }

  // One budget per call: at most max_attempts failed GETs and no new attempt
  // past the deadline. A body that ended early is resumed from the first
  // byte not yet received, without spending an attempt, so a retry never
  // delivers a byte twice.
  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                char* dst) const override {
    if (offset >= size_) return size_t{0};
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
    const std::string what =
        absl::StrCat(uri_, ": read of bytes [", offset, ", ", offset + n, ")");
    RetryBudget budget(retry_);
    size_t done = 0;
    while (done < n) {
      if (cancelled_.load(std::memory_order_relaxed)) {
        return absl::CancelledError(absl::StrCat(what, ": cancelled"));
      }
      arrow::Result<int64_t> got =
          file_->ReadAt(static_cast<int64_t>(offset + done),
                        static_cast<int64_t>(n - done), dst + done);
      if (got.ok() && *got > 0) {
        done += static_cast<size_t>(*got);
        continue;
      }
      std::string at = absl::StrCat("at byte offset ", offset + done);
      absl::Status error =
          got.ok() ? absl::UnavailableError(absl::StrCat(at, ": no data"))
                   : FromArrow(got.status(), at);
      absl::Status give_up = budget.OnFailure(error, what);
      if (!give_up.ok()) return give_up;
      Count(IoStats::Global().retries);
    }
    return done;
  }

  void Cancel() const override { cancelled_.store(true, std::memory_order_relaxed); }

 private:
  const std::string uri_;
  const std::shared_ptr<arrow::io::RandomAccessFile> file_;
  const uint64_t size_;
  const std::string version_;
  const RetryPolicy retry_;
  mutable std::atomic<bool> cancelled_{false};
};

// The ETag and Last-Modified of the HEAD that opened `file` (Arrow keeps
// the response headers as the file's metadata; no request is sent), "" if
// the server sent neither.
std::string VersionOf(arrow::io::RandomAccessFile& file) {
  auto metadata = file.ReadMetadata();
  if (!metadata.ok() || *metadata == nullptr) return "";
  std::string out;
  for (const char* key : {"ETag", "Last-Modified"}) {
    auto value = (*metadata)->Get(key);
    if (value.ok() && !value->empty()) {
      absl::StrAppend(&out, out.empty() ? "" : " ", key, "=", *value);
    }
  }
  return out;
}

}  // namespace

absl::Status NameMissingBucket(arrow::fs::S3FileSystem& fs,
                               const std::string& bucket,
                               absl::Status not_found) {
  if (not_found.code() != absl::StatusCode::kNotFound) return not_found;
  auto info = fs.GetFileInfo(bucket);
  if (info.ok() && info->type() == arrow::fs::FileType::NotFound) {
    return absl::NotFoundError(absl::StrCat(
        not_found.message(), " (bucket '", bucket, "' does not exist)"));
  }
  return not_found;
}


absl::StatusOr<std::unique_ptr<ByteSource>> OpenS3Source(
    const std::string& uri, const S3Config& config) {
  absl::StatusOr<S3Uri> parsed = ParseS3Uri(uri, /*require_key=*/true);
  if (!parsed.ok()) return parsed.status();
  auto fs = SharedFileSystem(config);
  if (!fs.ok()) return fs.status();
  const RetryPolicy policy = PolicyFor(config);
  std::shared_ptr<arrow::io::RandomAccessFile> file;
  int64_t size = 0;
  // Arrow's OpenInputFile sends the HEAD (size, existence).
  absl::Status s = WithRetries(policy, absl::StrCat(uri, ": open (HEAD)"), [&] {
    auto f = (*fs)->OpenInputFile(parsed->bucket + "/" + parsed->key);
    if (!f.ok()) return FromArrow(f.status(), "");
    auto n = (*f)->GetSize();
    if (!n.ok()) return FromArrow(n.status(), "");
    file = *std::move(f);
    size = *n;
    return absl::OkStatus();
  });
  if (!s.ok()) return NameMissingBucket(**fs, parsed->bucket, s);
  std::string version = VersionOf(*file);
  return std::unique_ptr<ByteSource>(new S3Source(
      uri, std::move(file), static_cast<uint64_t>(size), std::move(version),
      policy));
}

absl::Status WriteS3Object(const std::string& uri, absl::string_view bytes,
                           const S3Config& config) {
  absl::StatusOr<S3Uri> parsed = ParseS3Uri(uri, /*require_key=*/true);
  if (!parsed.ok()) return parsed.status();
  auto fs = SharedFileSystem(config);
  if (!fs.ok()) return fs.status();
  // A whole-object PUT: repeating it is safe.
  absl::Status s = WithRetries(
      PolicyFor(config), absl::StrCat(uri, ": write"), [&] {
        auto out = (*fs)->OpenOutputStream(parsed->bucket + "/" + parsed->key);
        if (!out.ok()) return FromArrow(out.status(), "");
        arrow::Status w =
            (*out)->Write(bytes.data(), static_cast<int64_t>(bytes.size()));
        if (w.ok()) w = (*out)->Close();
        if (!w.ok()) return FromArrow(w, "");
        return absl::OkStatus();
      });
  return NameMissingBucket(**fs, parsed->bucket, s);
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
  // A prefix with no objects lists as empty; a missing bucket is an error
  // (a typo in a bucket name must not look like an empty dataset). Arrow's
  // allow_not_found hides both, so it stays off and a NotFound is told apart
  // by asking for the bucket.
  selector.allow_not_found = false;
  std::vector<arrow::fs::FileInfo> infos;
  absl::Status s = WithRetries(
      PolicyFor(config), absl::StrCat(dir_uri, ": list"), [&] {
        auto got = (*fs)->GetFileInfo(selector);
        if (!got.ok()) return FromArrow(got.status(), "");
        infos = *std::move(got);
        return absl::OkStatus();
      });
  if (s.code() == absl::StatusCode::kNotFound) {
    auto bucket = (*fs)->GetFileInfo(parsed->bucket);
    if (!bucket.ok()) return FromArrow(bucket.status(), dir_uri);
    if (bucket->type() == arrow::fs::FileType::NotFound) {
      return absl::NotFoundError(absl::StrCat(
          dir_uri, ": bucket '", parsed->bucket, "' does not exist"));
    }
    return std::vector<std::string>{};  // an empty or missing prefix
  }
  if (!s.ok()) return s;
  std::vector<std::string> out;
  for (const arrow::fs::FileInfo& info : infos) {
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
