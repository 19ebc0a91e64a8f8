// S3Config (environment, explicit settings, endpoint URLs, cache key) and
// s3:// URI validation, and the RetryBudget every S3 request spends: plain
// data, no Arrow and no network.
#include "ffm/io/s3_config.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ffm/io/retry.h"
#include "ffm/io/s3_uri.h"
#include "gtest/gtest.h"

namespace ffm {
namespace {

// gtest only (no gmock here): substring check with a readable failure.
::testing::AssertionResult Contains(const std::string& text,
                                    const std::string& part) {
  if (text.find(part) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "'" << text << "' does not contain '" << part << "'";
}

// A getenv over a fixed map that also records which names were asked for.
class FakeEnv {
 public:
  explicit FakeEnv(std::map<std::string, std::string> vars)
      : vars_(std::move(vars)) {}

  S3Config::Getenv getenv() {
    return [this](const char* name) -> const char* {
      asked_.insert(name);
      auto it = vars_.find(name);
      return it == vars_.end() ? nullptr : it->second.c_str();
    };
  }
  const std::set<std::string>& asked() const { return asked_; }

 private:
  std::map<std::string, std::string> vars_;
  std::set<std::string> asked_;
};

absl::StatusOr<S3Config> FromEnv(std::map<std::string, std::string> vars) {
  FakeEnv env(std::move(vars));
  return S3Config::FromEnv(env.getenv());
}

TEST(S3ConfigFromEnv, EmptyEnvironmentKeepsDefaults) {
  absl::StatusOr<S3Config> c = FromEnv({});
  ASSERT_TRUE(c.ok()) << c.status();
  S3Config defaults;
  EXPECT_EQ(c->endpoint, "");
  EXPECT_EQ(c->scheme, "https");
  EXPECT_EQ(c->region, "");
  EXPECT_EQ(c->ca_file, "");
  EXPECT_FALSE(c->anonymous);
  EXPECT_TRUE(c->verify_tls);
  EXPECT_EQ(c->max_attempts, defaults.max_attempts);
  EXPECT_EQ(c->CacheKey(), defaults.CacheKey());
}

TEST(S3ConfigFromEnv, ReadsTheStandardVariables) {
  absl::StatusOr<S3Config> c = FromEnv({
      {"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"},
      {"AWS_REGION", "eu-west-1"},
      {"AWS_CA_BUNDLE", "/etc/ca.pem"},
      {"AWS_MAX_ATTEMPTS", "3"},
  });
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->endpoint, "127.0.0.1:9000");
  EXPECT_EQ(c->scheme, "http");
  EXPECT_EQ(c->region, "eu-west-1");
  EXPECT_EQ(c->ca_file, "/etc/ca.pem");
  EXPECT_EQ(c->max_attempts, 3);
}

TEST(S3ConfigFromEnv, ServiceSpecificEndpointWins) {
  absl::StatusOr<S3Config> c = FromEnv({
      {"AWS_ENDPOINT_URL", "http://general:1"},
      {"AWS_ENDPOINT_URL_S3", "https://s3-only:2/"},
  });
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->endpoint, "s3-only:2");
  EXPECT_EQ(c->scheme, "https");
}

TEST(S3ConfigFromEnv, EmptyValuesCountAsUnset) {
  absl::StatusOr<S3Config> c = FromEnv({
      {"AWS_ENDPOINT_URL_S3", ""},
      {"AWS_ENDPOINT_URL", "http://general:1"},
      {"AWS_REGION", ""},
      {"AWS_DEFAULT_REGION", "ap-south-1"},
      {"AWS_MAX_ATTEMPTS", ""},
  });
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->endpoint, "general:1");
  EXPECT_EQ(c->region, "ap-south-1");
  EXPECT_EQ(c->max_attempts, S3Config().max_attempts);
}

TEST(S3ConfigFromEnv, RegionBeforeDefaultRegion) {
  absl::StatusOr<S3Config> c =
      FromEnv({{"AWS_REGION", "us-west-2"}, {"AWS_DEFAULT_REGION", "eu-north-1"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->region, "us-west-2");
}

TEST(S3ConfigFromEnv, MalformedEndpointIsInvalidArgument) {
  for (const char* url : {"ftp://x", "127.0.0.1:9000", "http://", "http://h/path",
                          "https://h:1/bucket/"}) {
    absl::StatusOr<S3Config> c = FromEnv({{"AWS_ENDPOINT_URL", url}});
    ASSERT_FALSE(c.ok()) << url;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_TRUE(Contains(std::string(c.status().message()), url));
  }
  absl::StatusOr<S3Config> c = FromEnv({{"AWS_ENDPOINT_URL_S3", "ftp://y"},
                                        {"AWS_ENDPOINT_URL", "http://ok:1"}});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(std::string(c.status().message()), "ftp://y"));
}

TEST(S3ConfigFromEnv, MalformedMaxAttemptsIsInvalidArgument) {
  for (const char* v : {"0", "-1", "101", "three", "2.5"}) {
    absl::StatusOr<S3Config> c = FromEnv({{"AWS_MAX_ATTEMPTS", v}});
    ASSERT_FALSE(c.ok()) << v;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << v;
    EXPECT_TRUE(Contains(std::string(c.status().message()), "AWS_MAX_ATTEMPTS"));
    EXPECT_TRUE(Contains(std::string(c.status().message()), v));
  }
  for (const char* v : {"1", "100"}) {
    absl::StatusOr<S3Config> c = FromEnv({{"AWS_MAX_ATTEMPTS", v}});
    ASSERT_TRUE(c.ok()) << v << ": " << c.status();
    EXPECT_EQ(c->max_attempts, std::stoi(v));
  }
}

TEST(S3ConfigFromEnv, LeavesCredentialsToTheSdk) {
  FakeEnv env({{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
               {"AWS_SECRET_ACCESS_KEY", "do-not-read"}});
  absl::StatusOr<S3Config> c = S3Config::FromEnv(env.getenv());
  ASSERT_TRUE(c.ok()) << c.status();
  for (const std::string& name : env.asked()) {
    EXPECT_NE(name, "AWS_SECRET_ACCESS_KEY");
    EXPECT_NE(name, "AWS_ACCESS_KEY_ID");
    EXPECT_NE(name, "AWS_SESSION_TOKEN");
  }
  EXPECT_TRUE(env.asked().count("AWS_ENDPOINT_URL"));
  EXPECT_TRUE(env.asked().count("AWS_REGION"));
}

TEST(S3ConfigApply, EmptySettingsChangeNothing) {
  S3Config c;
  ASSERT_TRUE(c.Apply("").ok());
  ASSERT_TRUE(c.Apply(";;").ok());
  EXPECT_EQ(c.CacheKey(), S3Config().CacheKey());
}

TEST(S3ConfigApply, EveryKey) {
  S3Config c;
  absl::Status s = c.Apply(
      "endpoint_url=http://127.0.0.1:4566;region=eu-central-1;anonymous=true;"
      "ca_file=/tmp/ca.pem;verify_tls=false;max_attempts=4;"
      "connect_timeout=1.5;request_timeout=7;read_deadline=12.5");
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(c.endpoint, "127.0.0.1:4566");
  EXPECT_EQ(c.scheme, "http");
  EXPECT_EQ(c.region, "eu-central-1");
  EXPECT_TRUE(c.anonymous);
  EXPECT_EQ(c.ca_file, "/tmp/ca.pem");
  EXPECT_FALSE(c.verify_tls);
  EXPECT_EQ(c.max_attempts, 4);
  EXPECT_DOUBLE_EQ(c.connect_timeout_s, 1.5);
  EXPECT_DOUBLE_EQ(c.request_timeout_s, 7);
  EXPECT_DOUBLE_EQ(c.read_deadline_s, 12.5);
}

TEST(S3Config, DefaultBudgetFailsADeadEndpointWithinAboutThirtySeconds) {
  S3Config c;
  EXPECT_EQ(c.max_attempts, 10);
  EXPECT_DOUBLE_EQ(c.read_deadline_s, 30);
}

TEST(S3ConfigApply, OverridesTheEnvironment) {
  absl::StatusOr<S3Config> c = FromEnv({{"AWS_ENDPOINT_URL", "http://env:1"},
                                        {"AWS_REGION", "us-east-1"},
                                        {"AWS_CA_BUNDLE", "/env/ca.pem"}});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->Apply("endpoint_url=https://explicit:2;ca_file=/x.pem").ok());
  EXPECT_EQ(c->endpoint, "explicit:2");
  EXPECT_EQ(c->scheme, "https");
  EXPECT_EQ(c->region, "us-east-1");  // not given: the environment's stays
  EXPECT_EQ(c->ca_file, "/x.pem");
}

TEST(S3ConfigApply, BooleansAcceptTheUsualSpellings) {
  for (const char* t : {"true", "True", "TRUE", "1"}) {
    S3Config c;
    ASSERT_TRUE(c.Apply(std::string("anonymous=") + t).ok()) << t;
    EXPECT_TRUE(c.anonymous) << t;
  }
  for (const char* f : {"false", "False", "0"}) {
    S3Config c;
    c.verify_tls = true;
    ASSERT_TRUE(c.Apply(std::string("verify_tls=") + f).ok()) << f;
    EXPECT_FALSE(c.verify_tls) << f;
  }
}

TEST(S3ConfigApply, ValueMayContainEquals) {
  S3Config c;
  ASSERT_TRUE(c.Apply("ca_file=/certs/a=b.pem").ok());
  EXPECT_EQ(c.ca_file, "/certs/a=b.pem");
}

struct BadSetting {
  const char* settings;
  const char* mentions;  // the message names the key or the value
};

class S3ConfigApplyErrors : public ::testing::TestWithParam<BadSetting> {};

TEST_P(S3ConfigApplyErrors, AreInvalidArgument) {
  S3Config c;
  absl::Status s = c.Apply(GetParam().settings);
  ASSERT_FALSE(s.ok()) << GetParam().settings;
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(std::string(s.message()), GetParam().mentions));
}

INSTANTIATE_TEST_SUITE_P(
    S3Config, S3ConfigApplyErrors,
    ::testing::Values(
        BadSetting{"endpoint=http://x:1", "unknown S3 option 'endpoint'"},
        BadSetting{"profile=dev", "unknown S3 option 'profile'"},
        BadSetting{"region=us-east-1;bogus=1", "'bogus'"},
        BadSetting{"endpoint_url=ftp://x", "ftp://x"},
        BadSetting{"endpoint_url=http://h:1/path", "http://h:1/path"},
        BadSetting{"endpoint_url=", "http:// or https://"},
        BadSetting{"anonymous=yes", "anonymous"},
        BadSetting{"anonymous", "anonymous"},
        BadSetting{"verify_tls=2", "verify_tls"},
        BadSetting{"max_attempts=0", "max_attempts"},
        BadSetting{"max_attempts=101", "101"},
        BadSetting{"max_attempts=x", "max_attempts"},
        BadSetting{"connect_timeout=0", "connect_timeout"},
        BadSetting{"connect_timeout=-1", "-1"},
        BadSetting{"request_timeout=soon", "request_timeout"},
        BadSetting{"read_deadline=0", "read_deadline"},
        BadSetting{"read_deadline=-3", "read_deadline"}));

TEST(S3ConfigApply, StopsAtTheFirstError) {
  S3Config c;
  absl::Status s = c.Apply("max_attempts=0;region=never-applied");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.region, "");
}

TEST(S3ConfigSetEndpointUrl, SchemeHostAndPort) {
  S3Config c;
  ASSERT_TRUE(c.SetEndpointUrl("http://127.0.0.1:9000").ok());
  EXPECT_EQ(c.scheme, "http");
  EXPECT_EQ(c.endpoint, "127.0.0.1:9000");
  ASSERT_TRUE(c.SetEndpointUrl("https://s3.example.com//").ok());
  EXPECT_EQ(c.scheme, "https");
  EXPECT_EQ(c.endpoint, "s3.example.com");
  ASSERT_TRUE(c.SetEndpointUrl("https://[::1]:8443/").ok());
  EXPECT_EQ(c.endpoint, "[::1]:8443");
}

TEST(S3ConfigSetEndpointUrl, RejectsWhatIsNotSchemeHostPort) {
  for (const char* url : {"", "ftp://x", "s3://bucket", "127.0.0.1:9000",
                          "http://", "https:///", "http://h/p", "http://h:1/b/k"}) {
    S3Config c;
    absl::Status s = c.SetEndpointUrl(url);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_TRUE(Contains(std::string(s.message()), std::string("'") + url + "'"))
        << url;
    EXPECT_EQ(c.endpoint, "") << url;
  }
}

TEST(S3ConfigCacheKey, EqualConfigsShareDifferentOnesDoNot) {
  S3Config base;
  ASSERT_TRUE(base.SetEndpointUrl("http://127.0.0.1:1").ok());
  S3Config same = base;
  EXPECT_EQ(base.CacheKey(), same.CacheKey());

  std::set<std::string> keys = {base.CacheKey()};
  auto differs = [&](const char* settings) {
    S3Config c = base;
    ASSERT_TRUE(c.Apply(settings).ok()) << settings;
    EXPECT_TRUE(keys.insert(c.CacheKey()).second) << settings;
  };
  differs("endpoint_url=http://127.0.0.1:2");
  differs("endpoint_url=https://127.0.0.1:1");
  differs("region=eu-west-1");
  differs("anonymous=true");
  differs("ca_file=/ca.pem");
  differs("verify_tls=false");
  differs("max_attempts=2");
  differs("connect_timeout=3");
  differs("request_timeout=4");
  differs("read_deadline=5");
}

// --- s3://bucket/key ---

TEST(S3UriParse, BucketAndKey) {
  absl::StatusOr<S3Uri> u = ParseS3Uri("s3://my-bucket.1/a/b/c.tfrecord", true);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->bucket, "my-bucket.1");
  EXPECT_EQ(u->key, "a/b/c.tfrecord");
}

TEST(S3UriParse, KeyOptionalForPrefixes) {
  for (const char* uri : {"s3://bucket", "s3://bucket/"}) {
    absl::StatusOr<S3Uri> u = ParseS3Uri(uri, false);
    ASSERT_TRUE(u.ok()) << uri << ": " << u.status();
    EXPECT_EQ(u->bucket, "bucket");
    EXPECT_EQ(u->key, "");
  }
  absl::StatusOr<S3Uri> u = ParseS3Uri("s3://bucket/train/", false);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->key, "train/");
}

TEST(S3UriParse, BucketNameLengthLimits) {
  EXPECT_TRUE(ParseS3Uri("s3://abc/k", true).ok());
  EXPECT_TRUE(ParseS3Uri("s3://" + std::string(63, 'a') + "/k", true).ok());
  EXPECT_EQ(ParseS3Uri("s3://ab/k", true).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseS3Uri("s3://" + std::string(64, 'a') + "/k", true).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class S3UriInvalid : public ::testing::TestWithParam<const char*> {};

TEST_P(S3UriInvalid, IsInvalidArgumentNamingTheUri) {
  absl::StatusOr<S3Uri> u = ParseS3Uri(GetParam(), /*require_key=*/true);
  ASSERT_FALSE(u.ok()) << GetParam();
  EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(std::string(u.status().message()), std::string("'") + GetParam() + "'"));
}

INSTANTIATE_TEST_SUITE_P(
    S3Uri, S3UriInvalid,
    ::testing::Values("s3://Bad_Bucket/x", "s3://UPPER/x", "s3://under_score/x",
                      "s3://-leading/x", "s3://trailing-/x", "s3://trailing./x",
                      "s3:///x", "s3://", "gs://bucket/x", "bucket/x",
                      "S3://bucket/x", "/local/path",
                      // no object named
                      "s3://bucket", "s3://bucket/", "s3://bucket/dir/"));

TEST(S3UriParse, MissingKeyMessageSaysWhatIsExpected) {
  absl::StatusOr<S3Uri> u = ParseS3Uri("s3://bucket/", true);
  ASSERT_FALSE(u.ok());
  EXPECT_TRUE(Contains(std::string(u.status().message()), "names no object"));
  u = ParseS3Uri("s3://Bad_Bucket/x", true);
  ASSERT_FALSE(u.ok());
  EXPECT_TRUE(Contains(std::string(u.status().message()), "not a valid S3 bucket name"));
}

// --- RetryBudget: the budget S3Config's max_attempts and read_deadline set
// for every S3 request ---

RetryPolicy FastPolicy(int max_attempts, double deadline_s = 0) {
  RetryPolicy p;
  p.max_attempts = max_attempts;
  p.initial_delay_s = 0.001;
  p.max_delay_s = 0.002;
  p.deadline_s = deadline_s;
  return p;
}

TEST(RetryBudget, ExactlyMaxAttemptsInTotal) {
  for (int max_attempts : {1, 2, 3, 10}) {
    RetryBudget budget(FastPolicy(max_attempts));
    int attempts = 0;
    absl::Status final_error;
    while (true) {
      ++attempts;
      absl::Status s =
          budget.OnFailure(absl::UnavailableError("refused"), "s3://b/k: bytes [0, 8)");
      if (!s.ok()) {
        final_error = s;
        break;
      }
    }
    EXPECT_EQ(attempts, max_attempts);
    EXPECT_EQ(budget.failed_attempts(), max_attempts);
    EXPECT_EQ(final_error.code(), absl::StatusCode::kUnavailable);
    std::string m(final_error.message());
    EXPECT_TRUE(Contains(m, "s3://b/k: bytes [0, 8): refused"));
    EXPECT_TRUE(Contains(m, absl::StrCat("gave up after ", max_attempts,
                                         " attempts in ")));
    EXPECT_TRUE(Contains(m, "stopped by max_attempts"));
  }
}

TEST(RetryBudget, NonRetryableErrorEndsAtOnceWithoutTheAttemptNote) {
  RetryBudget budget(FastPolicy(10));
  absl::Status s =
      budget.OnFailure(absl::PermissionDeniedError("403"), "s3://b/k: open");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "s3://b/k: open: 403");
}

TEST(RetryBudget, DeadlineStopsNewAttempts) {
  RetryPolicy p = FastPolicy(100, /*deadline_s=*/0.05);
  RetryBudget budget(p);
  absl::Status s;
  int attempts = 0;
  do {
    ++attempts;
    s = budget.OnFailure(absl::ResourceExhaustedError("SlowDown"), "x");
  } while (s.ok());
  EXPECT_LT(attempts, 100);
  EXPECT_LT(budget.elapsed_s(), 1.0);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Contains(std::string(s.message()), "stopped by read_deadline"));
}

TEST(RetryBudget, BackoffIsBoundedByTheCappedExponential) {
  RetryPolicy p;
  p.initial_delay_s = 0.05;
  p.max_delay_s = 5;
  for (int attempt = 1; attempt <= 12; ++attempt) {
    double cap = std::min(5.0, 0.05 * (1 << (attempt - 1)));
    for (int i = 0; i < 50; ++i) {
      double d = BackoffDelay(p, attempt);
      EXPECT_GE(d, 0.0);
      EXPECT_LE(d, cap);
    }
  }
}

}  // namespace
}  // namespace ffm
