// The load the `tar` router (grace/router.h) will put on each expert instance, predicted from a
// layer's expert loads, and routing weights chosen to balance it.
//
// Model: tokens are spread evenly over the G source GPUs (sequences are pinned to the least
// loaded GPU), so GPU g asks expert e for load[e] / G tokens. tar serves them
//   1. on g itself when g hosts e;
//   2. else on g's node, split over the node's instances by their weights (node-normalised);
//   3. else over all instances by their weights.
// So an instance always gets its own GPU's demand; a node's other GPUs' demand stays in the
// node; only nodes without the expert send tokens elsewhere, and only there do the global
// weights (the per-node sums of the weights) matter.
//
// set_tar_weights picks, expert by expert (heaviest first, a few sweeps), the split that
// minimises the most loaded GPU given the other experts: the remote demand is spread over the
// hosting nodes by a common water level, then each node's demand is water-filled over its
// instances; weights are those shares (floored so every weight stays positive).
#ifndef GRACE_PLAN_TAR_MODEL_H_
#define GRACE_PLAN_TAR_MODEL_H_

#include <vector>

#include "grace/placement.h"

namespace grace::plan {

// Predicted tokens of each instance: result[e][i] for lp.experts[e].instances[i].
std::vector<std::vector<double>> tar_instance_load(const LayerPlacement& lp, const std::vector<double>& load, int nodes,
                                                   int gpus_per_node);

// Predicted tokens per GPU (sum of tar_instance_load over the GPU's instances).
std::vector<double> tar_gpu_load(const LayerPlacement& lp, const std::vector<double>& load, int nodes,
                                 int gpus_per_node);

// Rewrites the weights of every expert with more than one instance (see above).
void set_tar_weights(LayerPlacement& lp, const std::vector<double>& load, int nodes, int gpus_per_node, int sweeps = 3);

}  // namespace grace::plan

#endif  // GRACE_PLAN_TAR_MODEL_H_
