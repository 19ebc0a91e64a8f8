// Destroying something whose destructor may wait on the network, without
// making the caller wait for a stalled request it no longer needs.
//
// An iterator destroyed mid-read must return promptly; but the reads it
// started may be blocked in a request that only ends at the transfer's stall
// timeout. DestroyWithin runs the destructor on a thread of its own and
// waits up to `grace` for it: in the usual case it finishes in time and the
// thread is joined; otherwise the thread is detached and finishes the
// destruction (joining the reader's own threads, returning its buffers to
// the budget) once the stalled request gives up. The object must own, or
// share ownership of, everything its destructor touches.
#ifndef FFM_PREFETCH_DESTROY_WITHIN_H_
#define FFM_PREFETCH_DESTROY_WITHIN_H_

#include <chrono>
#include <functional>
#include <memory>

namespace ffm {

// Runs `work` on a new thread; true if it finished within `grace`.
bool RunWithin(std::function<void()> work, std::chrono::milliseconds grace);

template <typename T>
bool DestroyWithin(std::unique_ptr<T> object, std::chrono::milliseconds grace) {
  std::shared_ptr<T> shared(std::move(object));  // std::function copies
  return RunWithin([shared = std::move(shared)]() mutable { shared.reset(); },
                   grace);
}

}  // namespace ffm

#endif  // FFM_PREFETCH_DESTROY_WITHIN_H_
