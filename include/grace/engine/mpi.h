// The MPI world for the engine, without MPI headers in the public API.
//
// MpiSession initialises MPI on construction (MPI_Init_thread, FUNNELED) and finalises it on
// destruction; world() is the Comm over MPI_COMM_WORLD (see comm.h for the contract). One
// session per process. A process started without mpirun is a world of size 1 (singleton).
#ifndef GRACE_ENGINE_MPI_H_
#define GRACE_ENGINE_MPI_H_

#include <memory>

#include "grace/engine/comm.h"

namespace grace::engine {

class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  Comm& world() { return *world_; }

 private:
  std::unique_ptr<Comm> world_;
};

}  // namespace grace::engine

#endif  // GRACE_ENGINE_MPI_H_
