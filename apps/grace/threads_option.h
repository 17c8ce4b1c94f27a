// The --threads option of the commands that profile and plan (plan, compare, replan, drift): its help
// and its check. 0 is one thread per core, up to 16; every count gives the same result.
#ifndef GRACE_APPS_THREADS_OPTION_H_
#define GRACE_APPS_THREADS_OPTION_H_

#include "grace/error.h"

namespace grace::cli {

inline constexpr int kMaxThreads = 256;

inline constexpr const char* kThreadsHelp =
    "Threads for profiling and planning (default 0: one per core, up to 16); the result is the same for any count";

inline void check_threads_option(int threads) {
  GRACE_INPUT_CHECK(threads >= 0 && threads <= kMaxThreads,
                    "--threads {} must be in [0, {}] (0: one per core, up to 16)", threads, kMaxThreads);
}

}  // namespace grace::cli

#endif  // GRACE_APPS_THREADS_OPTION_H_
