// TaskQueue: one mutex and condition variable over a deque. for_each_task: `threads` loop tasks
// on a TaskQueue, a counter handing out task numbers, each failure kept by task number.
#include "core/task_queue.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace grace {

void TaskQueue::run(int threads) {
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([this] { work(); });
  work();
  for (auto& th : pool) th.join();
  if (failure_) std::rethrow_exception(failure_);
}

void TaskQueue::push(Task t, bool front) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (front)
      tasks_.push_front(std::move(t));
    else
      tasks_.push_back(std::move(t));
  }
  ready_.notify_one();
}

void TaskQueue::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    ready_.wait(lock, [this] { return !tasks_.empty() || running_ == 0 || failure_; });
    if (failure_ || tasks_.empty()) break;  // failed, or nothing queued and nothing running
    Task t = std::move(tasks_.front());
    tasks_.pop_front();
    ++running_;
    lock.unlock();
    std::exception_ptr thrown;
    try {
      t();
    } catch (...) {
      thrown = std::current_exception();
    }
    t = nullptr;  // what the task holds is freed outside the lock
    lock.lock();
    --running_;
    if (thrown && !failure_) failure_ = thrown, tasks_.clear();
    if (running_ == 0 || failure_) ready_.notify_all();
  }
  ready_.notify_all();
}

int pool_threads(int requested, int64_t useful) {
  if (requested > 0) return requested;
  const int64_t cores = std::max(1u, std::thread::hardware_concurrency());
  return int(std::max<int64_t>(1, std::min<int64_t>({cores, 16, useful})));
}

void for_each_task(int tasks, int threads, const std::function<void(int task, int worker)>& fn) {
  if (tasks <= 0) return;
  threads = std::clamp(threads, 1, tasks);
  std::vector<std::exception_ptr> failed(static_cast<size_t>(tasks));
  std::atomic<int> next{0};
  TaskQueue q;
  for (int w = 0; w < threads; ++w)
    q.push_back([&, w] {
      for (int t; (t = next.fetch_add(1)) < tasks;) {
        try {
          fn(t, w);
        } catch (...) {
          failed[size_t(t)] = std::current_exception();
        }
      }
    });
  q.run(threads);
  for (auto& f : failed)
    if (f) std::rethrow_exception(f);
}

}  // namespace grace
