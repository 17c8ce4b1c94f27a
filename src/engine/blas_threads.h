// OpenBLAS's worker threads, parked while a command does no linear algebra.
#ifndef GRACE_ENGINE_BLAS_THREADS_H_
#define GRACE_ENGINE_BLAS_THREADS_H_

namespace grace::engine {

// OpenBLAS (Debian's pthreads build, which the engine links) starts one worker per core when
// the library loads, and each worker spins on sched_yield for about 2^28 cycles (~0.1 s) before
// it sleeps. A command that never calls BLAS (plan, compare, ...) loses those cores to spinning
// just when its own threads start. This stops the workers; OpenBLAS starts them again at its
// next threaded call, so the engine's GEMMs are unaffected. A no-op with a BLAS that lacks
// OpenBLAS's blas_thread_shutdown_.
void park_blas_threads();

}  // namespace grace::engine

#endif  // GRACE_ENGINE_BLAS_THREADS_H_
