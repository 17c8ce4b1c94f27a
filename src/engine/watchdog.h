// Watchdog: hang detection for one engine rank.
//
// The engine calls beat(phase, layer, batch) at every phase boundary (before and after each
// collective, each layer). A background thread checks the time since the last beat; when it
// exceeds timeout_s it prints ONE line to stderr,
//   "grace: error: rank R: no progress for S s in <phase> (layer L, batch B); aborting"
// and calls on_timeout (the engine passes Comm::abort, i.e. MPI_Abort: the whole job ends
// non-zero). timeout_s <= 0 disables it (no thread). The destructor stops the thread.
// beat() is cheap (a few relaxed atomic stores) and may be called from the engine thread only;
// `phase` must point to a string with static storage duration.
#ifndef GRACE_ENGINE_WATCHDOG_H_
#define GRACE_ENGINE_WATCHDOG_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace grace::engine {

class Watchdog {
 public:
  Watchdog(double timeout_s, int rank, std::function<void()> on_timeout);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void beat(const char* phase, int layer = -1, int64_t batch = -1);
  bool enabled() const { return timeout_s_ > 0; }

 private:
  void loop();

  double timeout_s_;
  int rank_;
  std::function<void()> on_timeout_;
  std::atomic<int64_t> last_ns_{0};
  std::atomic<const char*> phase_{"start-up"};
  std::atomic<int> layer_{-1};
  std::atomic<int64_t> batch_{-1};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace grace::engine

#endif  // GRACE_ENGINE_WATCHDOG_H_
