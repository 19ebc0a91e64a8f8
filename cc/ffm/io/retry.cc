#include "ffm/io/retry.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

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

double BackoffDelay(const RetryPolicy& policy, int attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double cap = std::min(policy.max_delay_s,
                        policy.initial_delay_s * std::ldexp(1.0, attempt - 1));
  std::uniform_real_distribution<double> jitter(0.0, cap);
  return jitter(rng);
}

void BackoffBeforeRetry(const RetryPolicy& policy, int attempt) {
  std::this_thread::sleep_for(
      std::chrono::duration<double>(BackoffDelay(policy, attempt)));
}

RetryBudget::RetryBudget(const RetryPolicy& policy)
    : policy_(policy), start_(Clock::now()) {}

double RetryBudget::elapsed_s() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

absl::Status RetryBudget::OnFailure(const absl::Status& error,
                                    absl::string_view what) {
  ++failures_;
  if (!IsRetryable(error)) {
    return absl::Status(error.code(), absl::StrCat(what, ": ", error.message()));
  }
  double delay = BackoffDelay(policy_, failures_);
  double elapsed = elapsed_s();
  const char* reason = nullptr;
  if (failures_ >= policy_.max_attempts) {
    reason = "max_attempts";
  } else if (policy_.deadline_s > 0 && elapsed + delay >= policy_.deadline_s) {
    reason = "read_deadline";
  }
  if (reason == nullptr) {
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    return absl::OkStatus();
  }
  return absl::Status(
      error.code(),
      absl::StrCat(what, ": ", error.message(),
                   absl::StrFormat(" (gave up after %d attempts in %.1f s; "
                                   "max_attempts=%d, read_deadline=%g s; "
                                   "stopped by %s)",
                                   failures_, elapsed, policy_.max_attempts,
                                   policy_.deadline_s, reason)));
}

}  // namespace ffm
