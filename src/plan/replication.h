// Replication of hot experts into free slots, on a layer whose primaries are already placed
// (one instance per expert). Two strategies:
//
//   replicate_paper  method.md's dynamic replication: skew rho = W_max / W_mean over per-GPU
//                    groups, n = min(max(1, floor(rho)), GPUs - 1) copies of the heaviest
//                    GPU's hot set (shortest load-sorted prefix reaching W_max n / (n + 1)),
//                    one copy of each on the n least-loaded GPUs, then load-predicted weights
//                    (each instance's share = load / instances; weight ~ 1 / predicted GPU
//                    load). Slots are respected: copies that do not fit are given up (counted).
//   replicate_fill   grace's own: fills every free slot. Repeatedly an expert gets one more
//                    instance: while predicted GPU loads are unbalanced, the expert with the
//                    largest share on the most loaded GPU; then the expert with the largest
//                    load per instance. The copy goes to a node that has none of it
//                    yet when possible (the least-loaded GPU with room there), else on the
//                    least-loaded GPU with room; the expert's load is spread over its instances
//                    by water filling on the other load of their GPUs, and weights are those
//                    shares.
#ifndef GRACE_PLAN_REPLICATION_H_
#define GRACE_PLAN_REPLICATION_H_

#include <vector>

#include "grace/placement.h"

namespace grace::plan {

struct PaperReplication {
  double rho = 0;         // skew W_max / W_mean
  int copies_wanted = 0;  // n x |hot set|
  int copies_placed = 0;  // the rest were given up for lack of slots
};

// REQUIRES: lp has one instance per expert.
PaperReplication replicate_paper(LayerPlacement& lp, const std::vector<double>& load, int num_gpus, int slots);

// Returns the number of instances added (== free slots, unless every expert is already on
// every GPU).
int replicate_fill(LayerPlacement& lp, const std::vector<double>& load, int nodes, int gpus_per_node, int slots);

}  // namespace grace::plan

#endif  // GRACE_PLAN_REPLICATION_H_
