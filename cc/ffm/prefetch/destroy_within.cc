#include "ffm/prefetch/destroy_within.h"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace ffm {

bool RunWithin(std::function<void()> work, std::chrono::milliseconds grace) {
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  auto done = std::make_shared<Done>();
  std::thread thread([work = std::move(work), done]() mutable {
    work();
    work = nullptr;  // its captures die here, before `done` is signalled
    std::lock_guard<std::mutex> lock(done->mu);
    done->done = true;
    done->cv.notify_all();
  });
  bool in_time;
  {
    std::unique_lock<std::mutex> lock(done->mu);
    in_time = done->cv.wait_for(lock, grace, [&done] { return done->done; });
  }
  if (in_time) {
    thread.join();
  } else {
    thread.detach();  // owns all it touches (see the header)
  }
  return in_time;
}

}  // namespace ffm
