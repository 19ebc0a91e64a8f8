// The one retry policy for remote calls: which errors are worth another try,
// and exponential backoff with full jitter between tries.
#ifndef FFM_IO_RETRY_H_
#define FFM_IO_RETRY_H_

#include "absl/status/status.h"

namespace ffm {

struct RetryPolicy {
  int max_attempts = 5;
  double initial_delay_s = 0.05;
  double max_delay_s = 5.0;
};

// Transient conditions: throttling, 5xx, dropped or stalled connections.
bool IsRetryable(const absl::Status& status);

// Sleeps before attempt `attempt` (1 = the first retry): a uniformly random
// time up to min(max_delay, initial_delay * 2^(attempt-1)).
void BackoffBeforeRetry(const RetryPolicy& policy, int attempt);

}  // namespace ffm

#endif  // FFM_IO_RETRY_H_
