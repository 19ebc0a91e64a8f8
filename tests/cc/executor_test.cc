// ThreadPool: every scheduled task runs, on the pool's threads, and the
// destructor runs what is queued before joining.
#include "ffm/prefetch/executor.h"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "gtest/gtest.h"

namespace ffm {
namespace {

TEST(ThreadPoolTest, RunsEveryTaskOnItsThreads) {
  std::atomic<int> done{0};
  std::mutex mu;
  std::set<std::thread::id> ids;
  {
    ThreadPool pool(3);
    EXPECT_EQ(pool.num_threads(), 3);
    for (int i = 0; i < 500; ++i) {
      pool.Schedule([&] {
        {
          std::lock_guard<std::mutex> lock(mu);
          ids.insert(std::this_thread::get_id());
        }
        done.fetch_add(1);
      });
    }
  }  // joins after running the queue
  EXPECT_EQ(done.load(), 500);
  EXPECT_LE(ids.size(), 3u);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
}

TEST(ThreadPoolTest, DestructorRunsQueuedTasksBehindABlockedOne) {
  std::atomic<int> done{0};
  std::atomic<bool> release{false};
  {
    ThreadPool pool(1);
    pool.Schedule([&] {
      while (!release.load()) std::this_thread::yield();
      done.fetch_add(1);
    });
    for (int i = 0; i < 10; ++i) pool.Schedule([&] { done.fetch_add(1); });
    release.store(true);
  }
  EXPECT_EQ(done.load(), 11);
}

TEST(ThreadPoolTest, TasksMayScheduleMoreTasks) {
  std::atomic<int> done{0};
  {
    ThreadPool pool(2);
    for (int i = 0; i < 20; ++i) {
      pool.Schedule([&pool, &done] {
        pool.Schedule([&done] { done.fetch_add(1); });
        done.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(done.load(), 40);
}

}  // namespace
}  // namespace ffm
