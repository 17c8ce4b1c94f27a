#include "engine/blas_threads.h"

// OpenBLAS's own (exported) shutdown of its thread server, the one it runs before a fork; weak,
// so a BLAS without it links and the call is skipped.
extern "C" int blas_thread_shutdown_(void) __attribute__((weak));

namespace grace::engine {

void park_blas_threads() {
  if (blas_thread_shutdown_ != nullptr) blas_thread_shutdown_();
}

}  // namespace grace::engine
