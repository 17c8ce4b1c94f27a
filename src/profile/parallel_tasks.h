// Private to src/profile: runs independent, numbered tasks (a profile's layers) on a few threads.
#ifndef GRACE_PROFILE_PARALLEL_TASKS_H_
#define GRACE_PROFILE_PARALLEL_TASKS_H_

#include <cstdint>
#include <functional>

namespace grace::profile {

// Threads worth using for `work` elementary steps split into `tasks`: 1 below about a
// millisecond of work, else min(tasks, cores, 16). `requested` > 0 overrides the cores.
int threads_for(int tasks, int64_t work, int requested);

// Runs fn(task, worker) for task = 0 .. tasks-1 on `threads` threads (the caller's included),
// tasks taken in index order; worker (0 .. threads-1) names the thread, for per-thread scratch.
// If tasks throw, the exception of the lowest-numbered failing task is rethrown after all
// threads stop, so the error does not depend on the thread count.
void parallel_tasks(int tasks, int threads, const std::function<void(int task, int worker)>& fn);

}  // namespace grace::profile

#endif  // GRACE_PROFILE_PARALLEL_TASKS_H_
