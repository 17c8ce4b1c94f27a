// Assigns the expert instances of one node to its GPUs (grace planner, GPU level), instead of a
// per-node METIS run: GPUs get equal instance counts (expert compute time grows with the number
// of instances a GPU runs, and the slots are equal), the predicted token load is balanced by
// longest-processing-time greedy, then pairwise swaps between GPUs minimise
//   sum_g ((load_g - mean) / mean)^2  -  affinity_weight x (affinity kept inside GPUs / node's total)
// plus, with windows, window_weight x the mean over windows of the same load term per window.
// A negative affinity_weight spreads affine experts over the GPUs instead (the grace planner's
// choice, kGpuAffinityWeight in planners/grace_planner.cpp).
// Two copies of one expert never share a GPU. O(passes x m^2) for m instances.
//
// Deterministic: ties go to the lower index.
#ifndef GRACE_PLAN_GPU_PACKING_H_
#define GRACE_PLAN_GPU_PACKING_H_

#include <vector>

#include "plan/plan_util.h"

namespace grace::plan {

struct PackItem {
  int expert = 0;   // row/column of the affinity matrix
  double load = 0;  // predicted tokens of this instance
  // Optional: its predicted tokens in each of PackOptions::windows batch windows (batch-level
  // skew: a GPU whose experts peak in the same batches is overloaded in those batches).
  std::vector<double> window_load;
};

struct PackOptions {
  double affinity_weight = 0.02;
  int max_passes = 8;
  int windows = 0;             // > 0: items carry window_load; the swaps also even the GPUs'
  double window_weight = 1.0;  //   loads window by window (mean over windows of the same term)
};

// Returns the GPU (0 .. gpus - 1) of each item. REQUIRES: items.size() <= gpus x slots and no
// expert appears more than `gpus` times.
std::vector<int> pack_node(const AffMat& a, const std::vector<PackItem>& items, int gpus, int slots,
                           const PackOptions& opt = {});

}  // namespace grace::plan

#endif  // GRACE_PLAN_GPU_PACKING_H_
