// Assigns the expert instances of one node to its GPUs (grace planner, GPU level), instead of a
// per-node METIS run: GPUs get equal instance counts (expert compute time grows with the number
// of instances a GPU runs, and the slots are equal), the predicted token load is balanced by
// longest-processing-time greedy, then pairwise swaps between GPUs minimise
//   sum_g ((load_g - mean) / mean)^2  -  affinity_weight x (affinity kept inside GPUs / node's total).
// Two copies of one expert never share a GPU. O(passes x m^2) for m instances.
//
// Deterministic: ties go to the lower index.
#ifndef GRACE_PLAN_GPU_PACKING_H_
#define GRACE_PLAN_GPU_PACKING_H_

#include <vector>

#include "plan/plan_util.h"

namespace grace::plan {

struct PackItem {
  int expert = 0;    // row/column of the affinity matrix
  double load = 0;   // predicted tokens of this instance
};

struct PackOptions {
  double affinity_weight = 0.02;
  int max_passes = 8;
};

// Returns the GPU (0 .. gpus - 1) of each item. REQUIRES: items.size() <= gpus x slots and no
// expert appears more than `gpus` times.
std::vector<int> pack_node(const AffMat& a, const std::vector<PackItem>& items, int gpus, int slots,
                           const PackOptions& opt = {});

}  // namespace grace::plan

#endif  // GRACE_PLAN_GPU_PACKING_H_
