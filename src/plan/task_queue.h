// A fixed pool of threads over one queue of tasks, for planners whose per-layer work splits into
// steps of different sizes. A task may push more tasks while it runs; tasks pushed to the front
// run before those already waiting, so a layer's follow-up steps run before the next layer
// starts and only about as many layers as threads are in flight (their working data alive) at
// once. Results must not depend on the order tasks run in: each task writes only its own slots,
// and whatever combines them runs in the task that finishes last (a counter per layer).
#ifndef GRACE_PLAN_TASK_QUEUE_H_
#define GRACE_PLAN_TASK_QUEUE_H_

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace grace::plan {

class TaskQueue {
 public:
  using Task = std::function<void()>;

  void push_back(Task t) { push(std::move(t), false); }
  void push_front(Task t) { push(std::move(t), true); }

  // Runs every task (and every task they push) on `threads` threads, this one included, and
  // returns when none is left. The first exception a task throws is rethrown here; the tasks
  // not yet started then are dropped.
  void run(int threads) {
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([this] { work(); });
    work();
    for (auto& th : pool) th.join();
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  void push(Task t, bool front) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (front)
        tasks_.push_front(std::move(t));
      else
        tasks_.push_back(std::move(t));
    }
    ready_.notify_one();
  }

  void work() {
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

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Task> tasks_;
  int running_ = 0;
  std::exception_ptr failure_;
};

}  // namespace grace::plan

#endif  // GRACE_PLAN_TASK_QUEUE_H_
