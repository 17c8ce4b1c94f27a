// GpuMoeEngine: one MoE layer of the distributed engine with everything resident on the GPU,
// one rank per GPU, NCCL between ranks (no CUDA/NCCL headers here).
//
// forward(x, ids, gate_w, out) for this rank's tokens, all device pointers:
//   route (primary|tar kernel on the shared RoutingTable, or decided by the caller:
//   forward_routed) -> per-destination histogram
//   (stable bucket sort of "units") -> scatter rows by destination -> one message per peer
//   (a header with the unit count, then BF16 rows + per-unit metadata: the k destination GPUs,
//   flat slots and gate weights, up to a capacity both ends know; no count exchange first, see
//   src/cuda/a2a_stage.h) -> one grouped ncclSend/ncclRecv (a second only for units past the
//   capacity) -> the headers to the host (the one host round trip per stage) -> on the
//   destination GPU: local permute by expert, grouped expert FFN,
//   gate-weighted sum per unit (LocalMoeLayer) -> the same path back -> sum of the returned
//   partial rows per token + residual:  out[t] = x[t] + sum_j w[t,j] * FFN_{ids[t,j]}(x[t]).
//
// A unit is one row on the wire. flat: one unit per (token, destination GPU) over the world
// comm. hierarchical: stage 1 sends one unit per (token, destination node) over the world comm
// to the GPU of that node with this GPU's local rank; stage 2 one unit per (token, GPU) over the
// node comm; on the way back stage-2 partial sums are reduced on the relay GPU before they
// cross nodes again. Hidden states and partial sums are BF16 on the wire (F32 accumulation).
//
// Expert weights: each local slot s of this GPU (Placement::gpu_slots(layer)[gpu][s]) is filled
// on the device by fill_expert_weights(expert, ...) (deterministic per expert), so replicas are
// identical and fill_expert_weights builds the single-GPU reference with the same weights.
#ifndef GRACE_CUDA_GPU_ENGINE_H_
#define GRACE_CUDA_GPU_ENGINE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "grace/cuda/device.h"
#include "grace/cuda/nccl_comm.h"
#include "grace/cuda/routing.h"

namespace grace {
struct Placement;
struct Topology;
class RoutingTable;
}  // namespace grace

namespace grace::cuda {

struct GpuEngineConfig {
  int rank = 0, size = 1, device = 0;
  int num_layers = 1;       // the placement's MoE layers [0, num_layers) this engine serves
  int top_k = 1;
  int64_t hidden = 0, inter = 0;
  bool hierarchical = false;
  DeviceRouter router = DeviceRouter::kPrimary;
  uint64_t route_seed = 3;
  uint64_t weight_seed = 5;
  // true: every local slot's weights are generated on the device (fill_expert_weights with
  // weight_seed); false: the caller loads them with load_expert (the engine's WeightSource).
  bool generate_weights = true;
};

// Per forward() call (this rank). Times from CUDA events on the engine's stream; the host
// round trip of each dispatch stage (the received headers) is inside dispatch.
struct GpuLayerStats {
  float dispatch_ms = 0;  // route + histogram + scatter + pack + exchange(s) + unpack (all stages)
  float compute_ms = 0;   // local permute + expert FFN + weighted sum per unit
  float combine_ms = 0;   // return trips + reductions + unpermute + residual
  int64_t rows_intra = 0, rows_inter = 0;    // rows this rank sent to other GPUs, both ways
  int64_t bytes_intra = 0, bytes_inter = 0;  // the same in bytes (rows + metadata)
  int64_t expert_rows = 0;                   // (unit, local expert) pairs computed here
  // The combine (return) direction's share of the four counters above.
  int64_t combine_rows_intra = 0, combine_rows_inter = 0, combine_bytes_intra = 0, combine_bytes_inter = 0;
  // What really crossed to other GPUs, dispatch + combine: bytes_* plus the dispatch messages'
  // headers and the padding up to their capacity.
  int64_t wire_bytes_intra = 0, wire_bytes_inter = 0;
  int exchanges = 0;           // grouped NCCL all-to-alls issued (dispatch + combine, all stages)
  int overflow_exchanges = 0;  // of those, dispatch exchanges for units past the capacity
};

// The expert's weights in the layout of expert_ffn.h: w13 [2*inter][hidden], w2 [hidden][inter].
void fill_expert_weights(int expert, uint64_t seed, int64_t hidden, int64_t inter, bf16_t* w13,
                         bf16_t* w2, Stream stream = nullptr);

class GpuMoeEngine {
 public:
  // Collective over all ranks (creates the NCCL communicators). The placement and topology
  // must be the same on every rank; topology nodes * gpus_per_node == size.
  GpuMoeEngine(const NcclId& id, const GpuEngineConfig& cfg, const Placement& placement,
               const Topology& topo, const RoutingTable& table);
  ~GpuMoeEngine();
  GpuMoeEngine(const GpuMoeEngine&) = delete;
  GpuMoeEngine& operator=(const GpuMoeEngine&) = delete;

  // Local slots of this GPU at `layer` (Placement::gpu_slots order): their experts.
  const std::vector<int>& local_experts(int layer) const;
  // Loads local slot `slot` of `layer` from F32 host matrices in the engine's layout
  // (compute.h: gate/up [inter][hidden], down [hidden][inter]), converted to BF16.
  void load_expert(int layer, int slot, const float* gate, const float* up, const float* down);

  // Collective. x, out [tokens][hidden] bf16 (out may not alias x); ids [tokens][top_k];
  // gate_w [tokens][top_k] f32. The routing hash key of token t is token_index[t] (device array)
  // when given, else token_base + t. rank_tokens (host, one per rank, the same on every rank,
  // or null on every rank): every rank's `tokens` of this call, which scales the dispatch
  // messages' capacities (src/cuda/a2a_stage.h) so batches of uneven sizes still fit.
  GpuLayerStats forward(int layer, const bf16_t* x, const int32_t* ids, const float* gate_w, int64_t tokens,
                        int64_t token_base, bf16_t* out, const int64_t* token_index = nullptr,
                        const int64_t* rank_tokens = nullptr);
  // The same layer with the routing already decided (a host router, grace/router.h, for the
  // routers with no GPU kernel): dest [tokens][top_k] serving GPUs and flat_slot [tokens][top_k]
  // flat slots (grace/cuda/routing.h), device arrays. Collective; the rest as forward().
  GpuLayerStats forward_routed(int layer, const bf16_t* x, const int32_t* dest, const int32_t* flat_slot,
                               const float* gate_w, int64_t tokens, bf16_t* out,
                               const int64_t* rank_tokens = nullptr);
  // Layer 0 (the single-layer benchmark and tests).
  GpuLayerStats forward(const bf16_t* x, const int32_t* ids, const float* gate_w, int64_t tokens,
                        int64_t token_base, bf16_t* out) {
    return forward(0, x, ids, gate_w, tokens, token_base, out);
  }

  // Collective helpers for the drivers: element-wise max over ranks of n floats (host in/out),
  // and a barrier.
  void allreduce_max(float* values, int n);
  void barrier();
  Stream stream() const;
  int num_local_slots() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace grace::cuda

#endif  // GRACE_CUDA_GPU_ENGINE_H_
