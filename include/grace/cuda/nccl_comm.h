// The NCCL Comm of the engine (contract in grace/engine/comm.h), one rank per GPU.
//
// Bootstrap: NCCL needs one unique id shared by all ranks. make_nccl_comm(bootstrap, device)
// takes it from rank 0 of any existing Comm (the engine's MPI world): rank 0 creates the id
// and sends it to every rank with the bootstrap's alltoallv. Threads of one process (tests) can
// instead share an id from nccl_unique_id() directly.
//
// Transfers: exchange_counts and alltoallv are grouped ncclSend/ncclRecv (one group per call,
// self-sends included), allreduce is ncclAllReduce, barrier a one-value all-reduce, split is
// ncclCommSplit (the engine's per-node communicator). alloc_buffer returns pinned host memory,
// because this engine version keeps activations on the host: alltoallv stages host buffers
// through device memory; buffers that are already device memory go to NCCL directly.
// Every call is complete (stream synchronised) when it returns.
#ifndef GRACE_CUDA_NCCL_COMM_H_
#define GRACE_CUDA_NCCL_COMM_H_

#include <memory>
#include <string>

#include "grace/engine/comm.h"

namespace grace::cuda {

struct NcclId {
  unsigned char bytes[128];
};

// True when this build has NCCL (GRACE_HAVE_NCCL); otherwise the functions below throw.
bool have_nccl();
NcclId nccl_unique_id();
std::unique_ptr<engine::Comm> make_nccl_comm(const NcclId& id, int rank, int size, int device);
std::unique_ptr<engine::Comm> make_nccl_comm(engine::Comm& bootstrap, int device);
// Collective over `bootstrap`: rank 0's new unique id, on every rank.
NcclId share_nccl_id(engine::Comm& bootstrap);
// Without any Comm: rank 0 writes a new id to DIR/nccl_id.TAG (atomically, by rename), the other
// ranks wait for the file (up to timeout_s; InputError naming the file after that). DIR must be
// one folder every rank sees (a launch of processes on one machine, network namespaces included).
NcclId rendezvous_nccl_id(const std::string& dir, int rank, const std::string& tag, double timeout_s = 120);

}  // namespace grace::cuda

#endif  // GRACE_CUDA_NCCL_COMM_H_
