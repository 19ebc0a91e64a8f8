// Where background work runs. Passed into the prefetcher (never created deep
// inside it) so tests can run reads synchronously with a null executor.
#ifndef FFM_PREFETCH_EXECUTOR_H_
#define FFM_PREFETCH_EXECUTOR_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ffm {

class Executor {
 public:
  virtual ~Executor() = default;
  virtual void Schedule(std::function<void()> task) = 0;
};

// A fixed set of worker threads owned by this object; the destructor runs
// every task already scheduled and joins the threads.
class ThreadPool final : public Executor {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Schedule(std::function<void()> task) override;
  int num_threads() const { return static_cast<int>(threads_.size()); }

 private:
  void WorkLoop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ffm

#endif  // FFM_PREFETCH_EXECUTOR_H_
