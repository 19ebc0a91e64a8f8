// The one retry policy for remote calls: which errors are worth another try,
// exponential backoff with full jitter between tries, and one budget per
// request (attempts and an overall deadline) that every remote call spends.
#ifndef FFM_IO_RETRY_H_
#define FFM_IO_RETRY_H_

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ffm {

struct RetryPolicy {
  int max_attempts = 5;        // attempts in total, the first one included
  double initial_delay_s = 0.05;
  double max_delay_s = 5.0;
  double deadline_s = 0;       // overall time for one request; 0 = none
};

// Transient conditions: throttling, 5xx, dropped or stalled connections.
bool IsRetryable(const absl::Status& status);

// A uniformly random time up to min(max_delay, initial_delay * 2^(attempt-1))
// before attempt `attempt` + 1 (attempt 1 = the first retry).
double BackoffDelay(const RetryPolicy& policy, int attempt);

// Sleeps BackoffDelay(policy, attempt).
void BackoffBeforeRetry(const RetryPolicy& policy, int attempt);

// The budget of one request (one ranged read, one HEAD, one listing):
//
//   RetryBudget budget(policy);
//   while (true) {
//     absl::Status s = TryOnce();
//     if (s.ok()) break;
//     absl::Status give_up = budget.OnFailure(s, "s3://b/k: bytes [0, 8)");
//     if (!give_up.ok()) return give_up;   // names attempts and elapsed time
//   }
//
// OnFailure counts the failed attempt; if the error is retryable, attempts
// remain and the backoff still ends before the deadline, it sleeps and
// returns OK (try again). Otherwise it returns the error, with the attempts
// made and the time spent appended. An attempt already running is not
// interrupted: the deadline bounds when the next one may start.
// Not thread-safe: one budget per request, on the caller's thread.
class RetryBudget {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RetryBudget(const RetryPolicy& policy);

  absl::Status OnFailure(const absl::Status& error, absl::string_view what);

  int failed_attempts() const { return failures_; }
  double elapsed_s() const;

 private:
  const RetryPolicy policy_;
  const Clock::time_point start_;
  int failures_ = 0;
};

}  // namespace ffm

#endif  // FFM_IO_RETRY_H_
