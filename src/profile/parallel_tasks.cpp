// parallel_tasks: a counter hands out task numbers; each failure is kept by task number.
#include "profile/parallel_tasks.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <vector>

namespace grace::profile {

int threads_for(int tasks, int64_t work, int requested) {
  constexpr int64_t kMinWorkPerThread = int64_t(1) << 20;  // about a millisecond of counting
  constexpr int64_t kMaxThreads = 16;
  int64_t t = requested;
  if (t <= 0) {
    const int64_t cores = std::max(1u, std::thread::hardware_concurrency());
    t = std::min({kMaxThreads, cores, std::max<int64_t>(1, work / kMinWorkPerThread)});
  }
  return int(std::clamp<int64_t>(t, 1, std::max(1, tasks)));
}

void parallel_tasks(int tasks, int threads, const std::function<void(int task, int worker)>& fn) {
  if (tasks <= 0) return;
  threads = std::clamp(threads, 1, tasks);
  std::vector<std::exception_ptr> failed(static_cast<size_t>(tasks));
  std::atomic<int> next{0};
  auto work = [&](int worker) {
    for (int t; (t = next.fetch_add(1)) < tasks;) {
      try {
        fn(t, worker);
      } catch (...) {
        failed[size_t(t)] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(size_t(threads - 1));
  for (int w = 1; w < threads; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& th : pool) th.join();
  for (auto& f : failed)
    if (f) std::rethrow_exception(f);
}

}  // namespace grace::profile
