// Comm: the communication backend the MoE engine runs on. One object per rank (process/GPU).
// Implementations: MPI (src/engine/comm_mpi.*, CPU) and NCCL (src/cuda, by the CUDA backend).
// No MPI/NCCL/CUDA headers here: buffers are raw pointers, counts are plain integers.
//
// Contract (every method is collective over the communicator unless stated otherwise):
//   - rank() in [0, size()); ranks of the engine's world communicator are the topology's GPU ids
//     (gpu = node * gpus_per_node + local_rank).
//   - split(color, key) creates a sub-communicator of the ranks passing the same color, ordered
//     by key (then by rank). The engine calls split(node, local_rank) once to get the
//     node-local communicator used by the intra-node stage of hierarchical communication.
//   - exchange_counts: an all-to-all of one int64 per peer: recv_counts[p] = the value rank p
//     passed in its send_counts[rank()]. Both arrays have size() entries.
//   - alltoallv: bytes. Rank r sends send_counts[p] bytes starting at send + send_offsets[p] to
//     every peer p (including itself) and receives recv_counts[p] bytes from p at
//     recv + recv_offsets[p]. recv_counts must equal what the peers send (use exchange_counts
//     first). Ranges must not overlap; zero counts are allowed and pointers may then be null.
//   - allreduce_*: in place, element-wise over all ranks, on n values (stats only: small n).
//   - barrier(): returns once every rank has entered it.
//   - abort(code): not collective; terminates the whole job as fast as possible (every rank
//     exits non-zero). Used when one rank hits an error the others cannot know about.
//   - alloc_buffer/free_buffer: not collective; memory for send/recv buffers. The engine hands
//     alltoallv only pointers obtained from alloc_buffer (so a backend may return pinned host
//     or device memory). Default: operator new / delete (host memory).
//
// NOTES: in this version the engine keeps activations in host memory; a backend whose
// transport needs device memory may return device pointers from alloc_buffer only if it also
// provides the matching ComputeBackend (compute.h) that reads/writes them. Thread safety: one
// thread per rank calls the comm; calls are made in the same order on every rank.
#ifndef GRACE_ENGINE_COMM_H_
#define GRACE_ENGINE_COMM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace grace::engine {

class Comm {
 public:
  virtual ~Comm() = default;

  virtual std::string_view name() const = 0;  // "mpi", "nccl", ...
  virtual int rank() const = 0;
  virtual int size() const = 0;

  virtual std::unique_ptr<Comm> split(int color, int key) = 0;

  virtual void exchange_counts(const int64_t* send_counts, int64_t* recv_counts) = 0;
  virtual void alltoallv(const void* send, const int64_t* send_counts, const int64_t* send_offsets, void* recv,
                         const int64_t* recv_counts, const int64_t* recv_offsets) = 0;

  virtual void allreduce_sum(double* values, int n) = 0;
  virtual void allreduce_max(double* values, int n) = 0;
  virtual void allreduce_sum(int64_t* values, int n) = 0;
  virtual void allreduce_max(int64_t* values, int n) = 0;
  virtual void barrier() = 0;

  [[noreturn]] virtual void abort(int code) = 0;

  virtual void* alloc_buffer(size_t bytes) { return bytes ? ::operator new(bytes) : nullptr; }
  virtual void free_buffer(void* p) { ::operator delete(p); }
};

}  // namespace grace::engine

#endif  // GRACE_ENGINE_COMM_H_
