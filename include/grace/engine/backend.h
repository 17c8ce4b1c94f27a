// MoeBackend: how one rank runs one MoE layer of the engine (grace/engine/engine.h). The driver
// loop (run_engine) owns batching, sequence pinning, initial hidden states, routing inputs,
// fault hooks, the watchdog and the statistics; a backend owns the hidden states of this rank's
// tokens during a batch and runs route -> dispatch -> compute -> combine (+ residual) per layer.
//
//   cpu  (make_cpu_backend, src/engine): F32 host activations, any Comm (MPI, or NCCL staged
//        through the host) and any ComputeBackend (OpenBLAS; CUDA copies rows in and out).
//   cuda (make_cuda_backend, src/cuda, -DGRACE_CUDA=ON): activations resident on the GPU end to
//        end (BF16 rows on the wire), NCCL, the GPU routing kernel (primary | tar; every other
//        router on the host, route_whole_batch) and the grouped expert GEMMs of GpuMoeEngine.
//
// Routing inputs: with trace routing the driver passes every batch token's top-k expert ids and
// gate weights; with gate routing it passes none, and the backend computes them from its hidden
// states (gate GEMM, softmax, group-limited top-k: grace/engine/gate.h) for its own tokens.
#ifndef GRACE_ENGINE_BACKEND_H_
#define GRACE_ENGINE_BACKEND_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "grace/engine/engine.h"

namespace grace::engine {

// One (batch, layer) as the driver hands it to the backend.
struct LayerWork {
  int layer = 0;
  int64_t batch = 0;
  int64_t n = 0;                         // tokens in the batch (all ranks)
  const int* src = nullptr;              // [n] rank holding each batch token
  const int64_t* token_index = nullptr;  // [n] global token ids (the routers' hash key)
  const int64_t* local = nullptr;        // [nl] batch-relative indices of this rank's tokens
  int64_t nl = 0;
  // Trace routing: top-k ids of batch token t at ids + t * ids_stride, its gate weights at
  // gate_w + t * top_k. Both null with gate routing. The rows hold every layer's ids: those of
  // layer `layer + d` of the same batch are at ids + d * top_k (a backend may route ahead).
  const expert_t* ids = nullptr;
  int64_t ids_stride = 0;
  const float* gate_w = nullptr;
  int top_k = 0;
};

// What the backend measured for one (batch, layer) on this rank.
struct LayerTimes {
  double dispatch_s = 0, compute_s = 0, combine_s = 0;
  TierCounts dispatch, combine;
  int64_t pairs = 0;  // (token, expert) pairs computed on this rank
};

// Progress callback into the watchdog: (phase name). The driver fills in layer and batch.
using Beat = std::function<void(const char*)>;

class MoeBackend {
 public:
  virtual ~MoeBackend() = default;
  virtual std::string_view name() const = 0;     // "cpu" | "cuda"
  virtual std::string compute_name() const = 0;  // what runs the experts ("cpu", "cuda", ...)
  virtual int64_t row_bytes() const = 0;         // one dispatch row on the wire
  // Loads this rank's expert weights (and the gate's, with gate routing) for layers [0, L).
  // beat_layer(l) is called before each layer. Local only (no collectives): run_engine catches a
  // rank's failure here and the ranks agree on it (LoadFailure) before anything is exchanged.
  virtual void load(int num_layers, const std::function<void(int)>& beat_layer) = 0;
  // Start of a batch: this rank's nl tokens' hidden states, [nl][hidden] F32 (host).
  virtual void begin_batch(const float* x, int64_t nl) = 0;
  // One MoE layer for the batch: out = x + MoE(x), kept by the backend as the next input.
  virtual LayerTimes layer(const LayerWork& w, const Beat& beat) = 0;
  // End of a batch: the final hidden states, [nl][hidden] F32 (host).
  virtual void end_batch(float* x) = 0;
  virtual double memory_bytes() const = 0;  // expert weight memory on this rank
};

// The whole batch routed on the host by `router`: dest[t * top_k + j] = the GPU serving batch
// token t's j-th expert, whose id is at ids + t * ids_stride. Every rank makes the same call on
// the same batch, so with a deterministic router their decisions agree.
void route_whole_batch(Router& router, const LayerWork& w, int top_k, const expert_t* ids, int64_t ids_stride,
                       std::vector<int>& dest);
// Gate routing: every rank's gate choices for its own tokens (local_ids / local_w, [nl][top_k])
// made batch-wide on every rank (ids / weights, [n][top_k]: a sum over ranks of arrays each
// filled at its own tokens' rows). Collective. weights may be null (ids only).
void gather_batch_choices(Comm& world, const LayerWork& w, int top_k, const int32_t* local_ids,
                          const float* local_w, std::vector<expert_t>& ids, std::vector<float>* weights);

// The CPU backend over `world` (hierarchical comm splits a node communicator from it) and
// `compute`. Everything referenced must outlive the backend.
std::unique_ptr<MoeBackend> make_cpu_backend(Comm& world, ComputeBackend& compute, const EngineInputs& in,
                                             const EngineOptions& opt);

}  // namespace grace::engine

#endif  // GRACE_ENGINE_BACKEND_H_
