// Cost-model simulator: turns the evaluator's per-(batch, layer) counts (evaluate.h) into time.
// Every constant comes from the Topology (link tiers, NIC, compute model and its constants) and
// the ModelSpec (bytes per token copy, expert weight bytes, FLOPs per token per expert); see
// docs/simulator.md for the model.
//
//   communication  alpha-beta per link tier. A GPU pays a tier's latency once per exchange stage
//                  in which it sends or receives anything on that tier, plus
//                  max(send, recv) bytes / bandwidth. Cross-node traffic with node_nic_GBps > 0
//                  also passes the node's shared NIC: latency + max(node send, node recv) bytes /
//                  node_nic_GBps; the GPU's cross-node time is the larger of the two.
//                  flat: one stage, the tiers run in parallel (a GPU's stage time is the larger of
//                  its two tiers), the slowest GPU sets the pace. hierarchical: the cross-node
//                  stage, then the intra-node stage, each paced by its slowest GPU. Combine
//                  mirrors dispatch (the same copies in reverse).
//   compute        per GPU, by Topology::compute_model, plus kernel_overhead_us when the GPU
//                  computes anything; the layer waits for the slowest GPU.
//                  grouped (default): all of the GPU's instances in one grouped GEMM, a roofline
//                  max(A x expert_bytes / hbm_GBps, N x FLOPs/token / grouped_tflops), A = hosted
//                  instances with tokens > 0, N = the GPU's token-expert pairs.
//                  per-expert: the sum over instances with n > 0 tokens of
//                  n x FLOPs/token / achieved(n), achieved(n) = Topology::tflops_at; a GEMM of n
//                  tokens never takes longer than one of m > n calibrated tokens (it could be
//                  padded), which keeps time monotone in load.
//   overlap        the batch is cut into c chunks pipelined through the stages (dispatch[, intra],
//                  compute, combine): each chunk pays full latencies and computes n / c tokens
//                  (grouped: each chunk streams its active instances' weights again);
//                  time = sum of one chunk's stages + (c - 1) x the slowest stage. The reported
//                  overlapped time is the best c in {1, 2, 4, ..., max_chunks}, so it never
//                  exceeds the time without overlap.
//
// Thread-safe: pure functions of their inputs.
#ifndef GRACE_SIMULATE_H_
#define GRACE_SIMULATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "grace/evaluate.h"

namespace grace {

struct Topology;
struct ModelSpec;

struct SimOptions {
  int max_chunks = 8;  // overlap model: largest chunk count tried (power of two, >= 1)
};

// Time of one layer of one batch, in microseconds; in SimResult, means over batches.
struct LayerTime {
  double dispatch_us = 0;        // dispatch, all stages
  double dispatch_inter_us = 0;  //   of which the cross-node part (flat: the slowest GPU's
  double dispatch_intra_us = 0;  //   inter / intra tier time; hierarchical: each stage)
  double compute_us = 0;         // slowest GPU's expert compute
  double combine_us = 0;
  double total_us = 0;    // dispatch + compute + combine (no overlap)
  double overlap_us = 0;  // with the chunked-pipeline overlap model
  int best_chunks = 1;    // chunk count giving overlap_us (in SimResult: of the last record)
  double idle_share = 0;  // sum over GPUs of (max - own compute) / (GPUs x max); 0 if idle

  LayerTime& operator+=(const LayerTime& o);
  LayerTime scaled(double f) const;
};

struct SimResult {
  CommScheme comm = CommScheme::kFlat;
  int num_layers = 0;
  int num_gpus = 0;
  int64_t num_batches = 0;
  int64_t batch_tokens = 0;
  Batching batching = Batching::kTrace;
  std::vector<LayerTime> per_layer;  // [layer]: mean over batches
  LayerTime mean_layer;              // mean over layers of per_layer: one MoE layer of one batch
  LayerTime batch_total;             // sum over layers of per_layer: all MoE layers of one batch
};

// One record. `comm` says how the record's copies were sent (its stages).
LayerTime simulate_record(const LayerBatchRecord& rec, CommScheme comm, const Topology& topo, const ModelSpec& model,
                          const SimOptions& options = {});

// Every record of an evaluation (needs EvalOptions::keep_records). Throws InputError when the
// evaluation kept no records or does not match the topology.
SimResult simulate(const EvalResult& eval, const Topology& topo, const ModelSpec& model,
                   const SimOptions& options = {});

// Per-expert model: time for one expert GEMM group of `tokens` tokens, in microseconds (the
// per-expert curve's monotone envelope, without the per-GPU overhead).
double expert_compute_us(double tokens, const Topology& topo, const ModelSpec& model);

// Grouped model: time of one grouped GEMM over `active_instances` instances and `tokens`
// token-expert pairs in total, in microseconds, without the per-GPU overhead.
double grouped_compute_us(int64_t active_instances, double tokens, const Topology& topo, const ModelSpec& model);

// One GPU's compute time for one chunk of `chunks` (each instance sees n / chunks tokens), by
// topo.compute_model, including kernel_overhead_us when any instance has tokens; 0 otherwise.
double gpu_compute_us(const std::vector<int32_t>& instance_tokens, int chunks, const Topology& topo,
                      const ModelSpec& model);

// Human-readable report and one JSON object (for `grace simulate [--json]`).
std::string format_sim(const SimResult& r);
std::string sim_json(const SimResult& r);

}  // namespace grace

#endif  // GRACE_SIMULATE_H_
