// A fixed pool of threads over one queue of tasks: the one thread-pool pattern of grace, used by
// the grace planner (a layer's steps of different sizes), replan (one search per layer), and
// through for_each_task by the profile (one count per layer) and the engine's random weights
// (parts of one matrix).
//
// A task may push more tasks while it runs; tasks pushed to the front run before those already
// waiting, so a layer's follow-up steps run before the next layer starts and only about as many
// layers as threads are in flight (their working data alive) at once. Results must not depend on
// the order tasks run in: each task writes only its own slots, and whatever combines them runs in
// the task that finishes last (a counter per layer).
#ifndef GRACE_CORE_TASK_QUEUE_H_
#define GRACE_CORE_TASK_QUEUE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>

namespace grace {

class TaskQueue {
 public:
  using Task = std::function<void()>;

  void push_back(Task t) { push(std::move(t), false); }
  void push_front(Task t) { push(std::move(t), true); }

  // Runs every task (and every task they push) on `threads` threads, this one included, and
  // returns when none is left. The first exception a task throws is rethrown here; the tasks
  // not yet started then are dropped.
  void run(int threads);

 private:
  void push(Task t, bool front);
  void work();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Task> tasks_;
  int running_ = 0;
  std::exception_ptr failure_;
};

// Threads for a pool: `requested` when > 0, else min(cores, 16, useful), at least 1.
int pool_threads(int requested, int64_t useful);

// Runs fn(task, worker) for task = 0 .. tasks-1 on a TaskQueue of `threads` threads (clamped to
// 1 .. tasks), tasks taken in index order; worker (0 .. threads-1) names the loop a task runs in,
// for per-worker scratch: no two tasks run at once with the same worker. Every task runs even if
// others throw; then the exception of the lowest-numbered failing task is rethrown, so the error
// does not depend on the thread count.
void for_each_task(int tasks, int threads, const std::function<void(int task, int worker)>& fn);

}  // namespace grace

#endif  // GRACE_CORE_TASK_QUEUE_H_
