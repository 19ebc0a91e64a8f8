#include "ffm/io/retry.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>

namespace ffm {

bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:  // throttling (503 SlowDown)
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

void BackoffBeforeRetry(const RetryPolicy& policy, int attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double cap = std::min(policy.max_delay_s,
                        policy.initial_delay_s * std::ldexp(1.0, attempt - 1));
  std::uniform_real_distribution<double> jitter(0.0, cap);
  std::this_thread::sleep_for(std::chrono::duration<double>(jitter(rng)));
}

}  // namespace ffm
