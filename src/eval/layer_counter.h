// LayerCounter: routes one layer of one batch and counts, into a LayerBatchRecord, what each
// GPU computes and what each tier carries, per the definitions in grace/evaluate.h:
//
//   flat          per (token, distinct destination GPU d != src): one copy src -> d, intra-node
//                 if d is on src's node, else inter-node.
//   hierarchical  per (token, distinct destination node m != node(src)): one inter-node copy
//                 src -> peer = gpu_at(m, local_rank(src)); then per distinct destination GPU
//                 d != peer on m one intra-node copy peer -> d. On the source node, one
//                 intra-node copy src -> d per distinct destination GPU d != src.
//
// Scratch buffers are reused between calls; not thread-safe (one counter per thread).
#ifndef GRACE_EVAL_LAYER_COUNTER_H_
#define GRACE_EVAL_LAYER_COUNTER_H_

#include <cstdint>
#include <vector>

#include "grace/evaluate.h"
#include "grace/router.h"
#include "grace/routing_table.h"

namespace grace::eval {

class LayerCounter {
 public:
  LayerCounter(const RoutingTable& table, CommScheme comm);

  // Routes `batch` with `router` and overwrites `rec` with the counts (rec.batch is left to
  // the caller). REQUIRES: ids < num_experts, src_gpu < num_gpus.
  void count(Router& router, const RouteBatch& batch, LayerBatchRecord& rec);

 private:
  const RoutingTable& table_;
  CommScheme comm_;
  std::vector<int> dest_, distinct_;
  std::vector<int64_t> slot_tokens_;  // flat slots of the layer
  std::vector<uint32_t> gpu_mark_, node_mark_;
  std::vector<int> node_of_gpu_;  // [G]: g / gpus_per_node, without a division per pair
  uint32_t stamp_ = 0;
};

// Adds one record to a running sum.
void accumulate(EvalTotals& t, const LayerBatchRecord& rec);

}  // namespace grace::eval

#endif  // GRACE_EVAL_LAYER_COUNTER_H_
