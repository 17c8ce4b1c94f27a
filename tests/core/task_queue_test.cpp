// The thread pool of grace (src/core/task_queue.h): every task runs, those pushed while others run
// included; front tasks go before waiting ones; the first exception comes back out of run();
// for_each_task runs each numbered task once, never two at once on one worker, and reports the
// lowest failing task's error whatever the thread count.
#include "core/task_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace grace {
namespace {

TEST(TaskQueue, RunsEveryTaskAndEveryTaskTheyPush) {
  for (int threads : {1, 2, 7}) {
    TaskQueue q;
    std::atomic<int> ran{0};
    std::vector<std::atomic<int>> per(40);
    for (int i = 0; i < 40; ++i)
      q.push_back([&, i] {
        ++ran, ++per[size_t(i)];
        for (int j = 0; j < 3; ++j)
          q.push_front([&, i] {
            ++ran, ++per[size_t(i)];
            q.push_back([&, i] { ++ran, ++per[size_t(i)]; });
          });
      });
    q.run(threads);
    EXPECT_EQ(ran.load(), 40 * 7) << threads << " threads";
    for (auto& n : per) EXPECT_EQ(n.load(), 7);
  }
}

TEST(TaskQueue, FrontTasksRunBeforeTheWaitingOnes) {
  TaskQueue q;
  std::string order;
  q.push_back([&] {
    order += 'a';
    q.push_front([&] { order += 'c'; });
    q.push_back([&] { order += 'd'; });
  });
  q.push_back([&] { order += 'b'; });
  q.run(1);
  EXPECT_EQ(order, "acbd");
}

TEST(TaskQueue, TheFirstExceptionComesBackAndLaterTasksAreDropped) {
  TaskQueue q;
  std::vector<int> ran;
  for (int i = 0; i < 10; ++i)
    q.push_back([&, i] {
      ran.push_back(i);
      if (i == 3) throw std::runtime_error("task 3 failed");
    });
  try {
    q.run(1);
    ADD_FAILURE() << "run() did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "task 3 failed");
  }
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2, 3}));
  // With several threads the exception still comes back.
  TaskQueue q2;
  std::atomic<int> started{0};
  for (int i = 0; i < 64; ++i)
    q2.push_back([&, i] {
      ++started;
      if (i == 5) throw std::runtime_error("task 5 failed");
    });
  EXPECT_THROW(q2.run(4), std::runtime_error);
  EXPECT_GE(started.load(), 6);
}

TEST(ForEachTask, RunsEachTaskOnceAndNeverTwoAtOnceOnOneWorker) {
  for (int threads : {1, 2, 3, 8, 100}) {
    const int tasks = 50;
    std::vector<std::atomic<int>> runs(tasks);
    std::vector<std::atomic<int>> busy(size_t(std::min(threads, tasks)));
    std::atomic<bool> shared_worker{false}, bad_worker{false};
    for_each_task(tasks, threads, [&](int t, int w) {
      if (w < 0 || w >= int(busy.size())) {
        bad_worker = true;
        return;
      }
      if (busy[size_t(w)].fetch_add(1) != 0) shared_worker = true;
      ++runs[size_t(t)];
      std::this_thread::yield();
      --busy[size_t(w)];
    });
    EXPECT_FALSE(bad_worker) << threads << " threads: a worker index outside 0 .. threads-1";
    EXPECT_FALSE(shared_worker) << threads << " threads: two tasks at once on one worker";
    for (int t = 0; t < tasks; ++t)
      EXPECT_EQ(runs[size_t(t)].load(), 1) << "task " << t << ", " << threads << " threads";
  }
  for_each_task(0, 4, [](int, int) { ADD_FAILURE() << "no task to run"; });
}

TEST(ForEachTask, EveryTaskRunsAndTheLowestFailingTasksErrorComesBack) {
  for (int threads : {1, 2, 3, 8}) {
    std::atomic<int> ran{0};
    try {
      for_each_task(20, threads, [&](int t, int) {
        ++ran;
        // Task 17 fails at once; task 4 fails after a while, so with several threads it is often
        // not the first failure in time.
        if (t == 17) throw std::runtime_error("task 17 failed");
        if (t == 4) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          throw std::runtime_error("task 4 failed");
        }
      });
      ADD_FAILURE() << "for_each_task did not throw";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "task 4 failed") << threads << " threads";
    }
    EXPECT_EQ(ran.load(), 20) << threads << " threads";
  }
}

TEST(PoolThreads, RequestedWinsElseCoresCappedByUseAndSixteen) {
  EXPECT_EQ(pool_threads(5, 1), 5);
  EXPECT_EQ(pool_threads(0, 1), 1);
  EXPECT_EQ(pool_threads(0, 0), 1);
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(pool_threads(0, 1000), std::min(cores, 16));
  EXPECT_EQ(pool_threads(-1, 2), std::min(cores, 2));
}

}  // namespace
}  // namespace grace
